"""Manifest media types and the pieces of manifests the registry client needs.

The store owns full image documents; the client only needs to tell an index from a
manifest and to walk descriptors (digest, size, media type, platform).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from krat.errors import InvalidArgument
from krat.oci.digest import Digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
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
