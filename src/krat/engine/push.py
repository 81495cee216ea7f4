"""`push`: send an image from the store to a registry.

Layers the store keeps uncompressed (built or imported images) are gzip-compressed first,
into the content store, and the pairing diff_id -> compressed blob is remembered so the
next push sends the same bytes without compressing again; the manifest is then rewritten
to name the compressed blobs. Each blob is skipped when the registry has it (HEAD),
mounted from a sibling repository the registry is known to hold it in, or uploaded; the
manifest goes last, so a failed push never leaves a tag pointing at missing blobs.
"""

from __future__ import annotations

import json
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from krat.engine.registries import Access, open_client
from krat.engine.transfers import Event, Listener, Status, ignore
from krat.errors import InvalidArgument
from krat.oci.reference import Reference, parse_reference

if TYPE_CHECKING:
    from krat.engine.config import Paths
    from krat.engine.images import Image, ImageService
    from krat.registry.client import RegistryClient
    from krat.registry.media import Descriptor, Manifest

PARALLEL_UPLOADS = 5  # Docker's max-concurrent-uploads default
GZIP_LEVEL = 1        # layer tars from a local registry push are network-cheap, CPU-bound: favour speed
UNCOMPRESSED = {
    "application/vnd.oci.image.layer.v1.tar": "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.docker.image.rootfs.diff.tar.gzip",
}


@dataclass(frozen=True)
class PushResult:
    reference: Reference
    digest: str
    size: int


def push(paths: "Paths", source: str, dest: str | None = None, *, access: Access = Access(),
         listener: Listener | None = None) -> PushResult:
    """Push the image `source` names to `dest` (default: `source` itself, which must be a name)."""
    from krat.engine.images import ImageService

    images = ImageService(paths)
    image = images.resolve(source)
    target = parse_reference(dest or source)
    if target.digest is not None:
        raise InvalidArgument(f"cannot push to a digest reference: {dest or source}")
    if dest is None and source.startswith("sha256:"):
        raise InvalidArgument(f"push needs a destination name for image {source}")
    with open_client(target.domain, access) as client:
        return Pusher(images, client, target, listener or ignore).run(image)


class Pusher:
    def __init__(self, images: "ImageService", client: "RegistryClient", ref: Reference, listener: Listener) -> None:
        self.images = images
        self.client = client
        self.ref = ref
        self.repo = ref.path
        self.listener = listener
        self._cancel = threading.Event()

    def run(self, image: "Image") -> PushResult:
        from krat.db import registry as q

        manifest = self._uploadable(image)
        blobs = [manifest.config(), *manifest.layers()]
        self.client.ping()  # fail fast (unreachable, TLS, auth) before any CPU-heavy work
        self._parallel(self._send, blobs[1:])
        self._send(blobs[0], layer=False)
        tag = self.ref.tag or "latest"
        self.client.put_manifest(self.repo, tag, manifest, what=f"manifest {self.ref.familiar}")
        q.add_sources(self.images.db, [str(d.digest) for d in blobs], self.ref.domain, self.repo)
        return PushResult(self.ref, str(manifest.digest), len(manifest.raw))

    def _parallel(self, fn, items) -> list:
        pool = ThreadPoolExecutor(max_workers=PARALLEL_UPLOADS, thread_name_prefix="krat-push")
        try:
            return [f.result() for f in [pool.submit(fn, item) for item in items]]
        except BaseException:
            self._cancel.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _uploadable(self, image: "Image") -> "Manifest":
        """The image's manifest, rewritten to compressed layers if the store keeps them plain."""
        from krat.oci.digest import sha256_bytes
        from krat.registry.media import Manifest, media_type_of

        raw = self.images.manifest_bytes(image)
        manifest = Manifest(media_type_of(raw, None), sha256_bytes(raw), raw)
        layers = manifest.layers()
        if not any(d.media_type in UNCOMPRESSED for d in layers):
            return manifest
        for d in layers:
            self.listener(Event(d.digest.short, Status.PREPARING, 0, d.size))
        pairs = list(zip(layers, image.diff_ids))
        new = self._parallel(lambda pair: self._compressed(*pair), pairs)
        doc = json.loads(raw)
        doc["layers"] = [dict(entry, mediaType=d.media_type, digest=str(d.digest), size=d.size)
                         for entry, d in zip(doc["layers"], new)]
        out = json.dumps(doc, separators=(",", ":")).encode()
        return Manifest(manifest.media_type, sha256_bytes(out), out)

    def _compressed(self, desc: "Descriptor", diff_id: str) -> "Descriptor":
        from krat.db import registry as q
        from krat.oci.digest import Digest
        from krat.registry.media import Descriptor

        target_type = UNCOMPRESSED.get(desc.media_type)
        if target_type is None:
            return desc
        content = self.images.content
        known = q.compressed(self.images.db, diff_id, target_type)
        if known and content.has(known[0]):
            return Descriptor(target_type, Digest.parse(known[0]), known[1])
        self.listener(Event(desc.digest.short, Status.COMPRESSING, 0, desc.size))
        with content.open(desc.digest) as src, content.writer() as writer:
            # wbits 31: a gzip stream with mtime 0, so the same tar always gives the same blob
            packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
            while chunk := src.read(1 << 20):
                if self._cancel.is_set():
                    raise InvalidArgument("push cancelled")
                writer.write(packer.compress(chunk))
            writer.write(packer.flush())
            ingested = writer.commit()
        q.set_compressed(self.images.db, diff_id, target_type, str(ingested.digest), ingested.size)
        return Descriptor(target_type, ingested.digest, ingested.size)

    def _send(self, desc: "Descriptor", layer: bool = True) -> None:
        from krat.db import registry as q
        from krat.registry import blobs

        short = desc.digest.short
        sources = tuple(q.sources(self.images.db, str(desc.digest), self.ref.domain, self.repo))

        def progress(done: int) -> None:
            if self._cancel.is_set():
                raise InvalidArgument("push cancelled")
            if layer:
                self.listener(Event(short, Status.PUSHING, done, desc.size))

        result = blobs.upload(self.client, self.repo, desc, lambda: self.images.content.open(desc.digest),
                              mount_from=sources, progress=progress)
        if layer:
            status = {blobs.Pushed.EXISTS: Status.LAYER_EXISTS, blobs.Pushed.MOUNTED: Status.MOUNTED,
                      blobs.Pushed.UPLOADED: Status.PUSHED}[result]
            self.listener(Event(short, status, desc.size, desc.size, sources[0] if sources else ""))
