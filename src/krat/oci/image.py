"""OCI image documents: media types, descriptors, manifests, indexes (image-spec), and
Docker's schema-2 equivalents, which are the same shape under other media types."""

from __future__ import annotations

import json

from krat.errors import InvalidArgument
from krat.oci.digest import Digest
from krat.oci.records import field, record

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
LAYER_TYPES = (OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, DOCKER_LAYER, DOCKER_LAYER_GZIP,
               "application/vnd.oci.image.layer.nondistributable.v1.tar",
               "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
               "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
LAYER_BY_COMPRESSION = {"none": OCI_LAYER, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"


def canonical_json(doc: object) -> bytes:
    """Compact JSON as written to blobs; the bytes define the digest, so write them once."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


@record(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: dict | None = None

    @classmethod
    def from_dict(cls, doc: object, where: str) -> "Descriptor":
        if not isinstance(doc, dict):
            raise InvalidArgument(f"{where}: a descriptor must be a JSON object")
        try:
            digest = Digest.parse(str(doc["digest"]))
            size = int(doc["size"])
            media_type = str(doc.get("mediaType", ""))
        except KeyError as err:
            raise InvalidArgument(f"{where}: descriptor lacks {err.args[0]!r}") from None
        except (TypeError, ValueError) as err:
            raise InvalidArgument(f"{where}: bad descriptor: {err}") from None
        if size < 0:
            raise InvalidArgument(f"{where}: negative size in descriptor {digest}")
        return cls(media_type, digest, size, dict(doc.get("annotations") or {}), doc.get("platform"))

    def to_dict(self) -> dict:
        doc: dict = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        if self.platform:
            doc["platform"] = dict(self.platform)
        return doc


@record(frozen=True)
class Manifest:
    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = OCI_MANIFEST
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: bytes, where: str = "manifest") -> "Manifest":
        doc = _load(raw, where)
        media_type = doc.get("mediaType") or OCI_MANIFEST
        if media_type in INDEX_TYPES or "manifests" in doc:
            raise InvalidArgument(f"{where}: is an image index, not a manifest")
        if media_type not in MANIFEST_TYPES or doc.get("schemaVersion") != 2:
            raise InvalidArgument(f"{where}: unsupported manifest type {media_type!r}")
        config = Descriptor.from_dict(doc.get("config"), f"{where} config")
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise InvalidArgument(f"{where}: 'layers' must be a list")
        descs = tuple(Descriptor.from_dict(d, f"{where} layer {i}") for i, d in enumerate(layers))
        for d in descs:
            if d.media_type and d.media_type not in LAYER_TYPES:
                raise InvalidArgument(f"{where}: unsupported layer media type {d.media_type!r}")
        return cls(config, descs, media_type, dict(doc.get("annotations") or {}))

    def to_dict(self) -> dict:
        doc: dict = {"schemaVersion": 2, "mediaType": self.media_type, "config": self.config.to_dict(),
                     "layers": [d.to_dict() for d in self.layers]}
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        return doc


def parse_index(raw: bytes, where: str = "index") -> list[Descriptor]:
    doc = _load(raw, where)
    manifests = doc.get("manifests")
    if not isinstance(manifests, list):
        raise InvalidArgument(f"{where}: 'manifests' must be a list")
    return [Descriptor.from_dict(d, f"{where} manifest {i}") for i, d in enumerate(manifests)]


def index_doc(manifests: list[Descriptor]) -> dict:
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [d.to_dict() for d in manifests]}


def parse_config(raw: bytes, where: str = "image config") -> dict:
    doc = _load(raw, where)
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise InvalidArgument(f"{where}: lacks rootfs.diff_ids")
    for d in rootfs["diff_ids"]:
        Digest.parse(str(d))
    if doc.get("config") is not None and not isinstance(doc.get("config"), dict):
        raise InvalidArgument(f"{where}: 'config' must be an object")
    return doc


def _load(raw: bytes, where: str) -> dict:
    try:
        doc = json.loads(raw)
    except ValueError as err:
        raise InvalidArgument(f"{where}: not valid JSON: {err}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{where}: must be a JSON object")
    return doc
