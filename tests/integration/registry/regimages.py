"""Small synthetic images (gzip layers of random files) as raw OCI blobs, for registry tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass

from krat.oci.digest import Digest
from krat.registry.media import DOCKER_LAYER_GZIP, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Descriptor, Manifest


def sha(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class TestImage:
    manifest: Manifest
    config: tuple[Descriptor, bytes]
    layers: list[tuple[Descriptor, bytes]]
    diff_ids: list[str]

    def blobs(self) -> list[tuple[Descriptor, bytes]]:
        return [self.config, *self.layers]


def make_image(layer_sizes=(1000, 5000), *, arch: str = "amd64", seed: bytes = b"",
               shared: list[tuple[bytes, bytes]] | None = None, media_type: str = OCI_MANIFEST) -> TestImage:
    """Layers of random content; `shared` = earlier (tar, gz) pairs to reuse as bottom layers."""
    pairs = list(shared or [])
    for i, size in enumerate(layer_sizes):
        tar = layer_tar({f"file{i}-{seed.hex()}": os.urandom(size)})
        pairs.append((tar, gzip.compress(tar, mtime=0)))
    layer_type = DOCKER_LAYER_GZIP if "docker" in media_type else OCI_LAYER_GZIP
    layers = [(Descriptor(layer_type, sha(gz), len(gz)), gz) for _, gz in pairs]
    diff_ids = [str(sha(tar)) for tar, _ in pairs]
    config_doc = {"architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}, "created": "2026-01-01T00:00:00Z"}
    config = json.dumps(config_doc).encode()
    config_type = "application/vnd.docker.container.image.v1+json" if "docker" in media_type else OCI_CONFIG
    cdesc = Descriptor(config_type, sha(config), len(config))
    doc = {"schemaVersion": 2, "mediaType": media_type,
           "config": {"mediaType": config_type, "digest": str(cdesc.digest), "size": cdesc.size},
           "layers": [{"mediaType": d.media_type, "digest": str(d.digest), "size": d.size} for d, _ in layers]}
    raw = json.dumps(doc, indent=2).encode()
    img = TestImage(Manifest(media_type, sha(raw), raw), (cdesc, config), layers, diff_ids)
    img.pairs = pairs  # type: ignore[attr-defined]
    return img
