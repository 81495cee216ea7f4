"""Image references with Docker's grammar and normalisation.

    busybox                 -> docker.io/library/busybox:latest
    localhost:5000/a/b:v1   -> localhost:5000/a/b:v1
    name@sha256:<hex>       -> pinned by digest (a tag may stand beside it)

The grammar is the one of the distribution project's reference package: lowercase
path components joined by `/`, separators `.`, `_`, `__` or runs of `-`; a first
component containing `.` or `:` (or `localhost`) names a registry host.
"""

from __future__ import annotations

import re

from krat.errors import InvalidArgument
from krat.oci.digest import Digest
from krat.oci.records import record

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_MAX = 255

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DOMAIN = re.compile(
    r"^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$"
)


@record(frozen=True)
class Reference:
    """A fully normalised image reference."""

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def repository(self) -> str:
        """domain/path, e.g. docker.io/library/busybox."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """The short name Docker prints: busybox, user/app, localhost:5000/app."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_PREFIX) and self.path.count("/") == 1:
                return self.path[len(OFFICIAL_PREFIX):]
            return self.path
        return self.repository

    def __str__(self) -> str:
        text = self.repository
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    @property
    def familiar(self) -> str:
        text = self.familiar_repository
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    def with_tag(self, tag: str) -> "Reference":
        return Reference(self.domain, self.path, tag, None)


def parse_reference(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise `text`; raise InvalidArgument naming what is wrong."""
    if not text:
        raise InvalidArgument("invalid reference format: empty image name")
    rest = text
    digest = None
    if "@" in rest:
        rest, _, digest_text = rest.partition("@")
        try:
            digest = Digest.parse(digest_text)
        except InvalidArgument as err:
            raise InvalidArgument(f"invalid reference format {text!r}: {err}") from err
    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidArgument(f"invalid reference format {text!r}: bad tag {tag!r}")
    domain, path = _split_domain(rest, text)
    if len(domain) + 1 + len(path) > NAME_MAX:
        raise InvalidArgument(f"invalid reference format {text!r}: repository name longer than {NAME_MAX}")
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def _split_domain(name: str, original: str) -> tuple[str, str]:
    first, sep, remainder = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, remainder
        if not _DOMAIN.match(domain):
            raise InvalidArgument(f"invalid reference format {original!r}: bad registry host {domain!r}")
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    components = path.split("/")
    for component in components:
        if not component:
            raise InvalidArgument(f"invalid reference format {original!r}: empty path component")
        if not _COMPONENT.match(component):
            if component.lower() != component and _COMPONENT.match(component.lower()):
                raise InvalidArgument(
                    f"invalid reference format {original!r}: repository name must be lowercase"
                )
            raise InvalidArgument(
                f"invalid reference format {original!r}: bad path component {component!r}"
            )
    if domain == DEFAULT_DOMAIN and len(components) == 1:
        path = OFFICIAL_PREFIX + path
    return domain, path
