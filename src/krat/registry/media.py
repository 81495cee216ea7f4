"""Manifest media types and the pieces of manifests the registry client needs.

krat.oci.image owns full image documents; the client keeps a manifest's exact bytes (they
are what its digest covers), tells an index from a manifest and walks descriptors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from krat.errors import InvalidArgument
from krat.oci.digest import Digest

# The media types themselves are the spec's, defined once in krat.oci.image.
from krat.oci.image import (  # noqa: E402  (re-exported for the client's callers)
    DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_LIST, DOCKER_MANIFEST, INDEX_TYPES, MANIFEST_TYPES,
    OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, OCI_MANIFEST,
)

DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)

# Preference order sent in Accept: an index first so that --platform can choose.
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
MAX_MANIFEST_BYTES = 4 << 20  # the limit containerd and the distribution registry use


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    """A fetched manifest or index: its bytes are what the digest covers."""

    media_type: str
    digest: Digest
    raw: bytes

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def document(self) -> dict:
        return parse_json(self.raw, f"manifest {self.digest}")

    def children(self) -> list[Descriptor]:
        """An index's manifests."""
        return [descriptor(d, self.digest) for d in self.document().get("manifests") or []]

    def config(self) -> Descriptor:
        doc = self.document()
        if not isinstance(doc.get("config"), dict):
            raise InvalidArgument(f"manifest {self.digest} has no config descriptor")
        return descriptor(doc["config"], self.digest)

    def layers(self) -> list[Descriptor]:
        return [descriptor(d, self.digest) for d in self.document().get("layers") or []]


def parse_json(raw: bytes, what: str) -> dict:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"{what} is not valid JSON: {err}") from err
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{what} is not a JSON object")
    return doc


def media_type_of(raw: bytes, header: str | None) -> str:
    """The manifest's own mediaType wins over Content-Type (registries often send text/plain)."""
    doc = parse_json(raw, "manifest")
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if doc.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1[0]
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc and "layers" in doc:
        return OCI_MANIFEST
    return (header or "").split(";")[0].strip()


def descriptor(doc: dict, parent: Digest) -> Descriptor:
    try:
        platform = doc.get("platform")
        plat = None
        if isinstance(platform, dict):
            plat = Platform(str(platform.get("os", "")), str(platform.get("architecture", "")),
                            platform.get("variant") or None)
        size = int(doc["size"])
        if size < 0:
            raise ValueError("negative size")
        return Descriptor(str(doc["mediaType"]), Digest.parse(str(doc["digest"])), size, plat,
                          tuple(doc.get("urls") or ()))
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidArgument(f"manifest {parent} has a malformed descriptor: {err}") from err
