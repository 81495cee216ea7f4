"""`push`: send an image from the store to a registry.

Layers the store keeps uncompressed (built or imported images) are gzip-compressed on
the fly while they upload (one streaming PATCH; the closing PUT names the digest), as
Docker does; the pairing diff_id -> compressed digest is remembered, so the next push
of the same layer asks the registry (HEAD) or mounts it by that digest without
compressing again. Compressed layers go as they are, skipped when the registry has them,
mounted from a sibling repository the registry is known to hold them in, or uploaded.
The manifest, rewritten to name the compressed blobs, goes last, so a failed push never
leaves a tag pointing at missing blobs.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from krat.engine.registries import Access, open_client
from krat.engine.transfers import Event, Listener, Status, ignore
from krat.errors import InvalidArgument
from krat.oci.image import DOCKER_LAYER, DOCKER_LAYER_GZIP, OCI_LAYER, OCI_LAYER_GZIP
from krat.oci.reference import Reference, parse_reference

if TYPE_CHECKING:
    from krat.engine.config import Paths
    from krat.engine.images import Image, ImageService
    from krat.registry.client import RegistryClient
    from krat.registry.media import Descriptor, Manifest

PARALLEL_UPLOADS = 5  # Docker's max-concurrent-uploads default
UNCOMPRESSED = {OCI_LAYER: OCI_LAYER_GZIP, DOCKER_LAYER: DOCKER_LAYER_GZIP}  # what a plain layer is pushed as


@dataclass(frozen=True)
class PushResult:
    reference: Reference
    digest: str
    size: int


@dataclass(frozen=True)
class _Layer:
    """One layer to push: as stored, its diff_id, and what the database knows of it."""

    local: "Descriptor"
    diff_id: str
    known: "Descriptor | None"      # the compressed twin pushed before, if any
    sources: tuple[str, ...]         # sibling repositories to try mounting from


class _Cancelled(Exception):
    pass


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
        from krat.oci.digest import sha256_bytes
        from krat.registry.media import Manifest, media_type_of

        self.client.ping()  # fail fast (unreachable, TLS, auth) before any work
        raw = self.images.manifest_bytes(image)
        manifest = Manifest(media_type_of(raw, None), sha256_bytes(raw), raw)
        config = manifest.config()
        # The database connection stays in this thread: everything it knows is looked up first.
        layers = [self._plan(d, diff_id) for d, diff_id in zip(manifest.layers(), image.diff_ids)]
        for layer in layers:
            self.listener(Event(layer.local.digest.short, Status.PREPARING))
        pushed = self._parallel(self._send_layer, layers)
        self._send(config, self._sources(config), layer=False)
        final = self._rewrite(manifest, pushed)
        tag = self.ref.tag or "latest"
        self.client.put_manifest(self.repo, tag, final, what=f"manifest {self.ref.familiar}")
        for layer, desc in zip(layers, pushed):
            if desc.digest != layer.local.digest:
                q.set_compressed(self.images.db, layer.diff_id, desc.media_type, str(desc.digest), desc.size)
        q.add_sources(self.images.db, [str(d.digest) for d in (config, *pushed)], self.ref.domain, self.repo)
        self._remember_digest(image, str(final.digest))
        return PushResult(self.ref, str(final.digest), len(final.raw))

    def _remember_digest(self, image: "Image", digest: str) -> None:
        """RepoDigests gains repository@digest, as after `docker push` (unless rmi raced us)."""
        from krat.db import images as image_rows

        with self.images.db.transaction():
            if image_rows.get_image(self.images.db, image.id) is not None:
                image_rows.add_repo_digest(self.images.db, self.ref.repository, digest, image.id)

    def _sources(self, desc: "Descriptor") -> tuple[str, ...]:
        from krat.db import registry as q

        return tuple(q.sources(self.images.db, str(desc.digest), self.ref.domain, self.repo))

    def _plan(self, desc: "Descriptor", diff_id: str) -> _Layer:
        from krat.db import registry as q
        from krat.oci.digest import Digest
        from krat.registry.media import Descriptor

        target = UNCOMPRESSED.get(desc.media_type)
        if target is None:
            return _Layer(desc, diff_id, None, self._sources(desc))
        row = q.compressed(self.images.db, diff_id, target)
        known = Descriptor(target, Digest.parse(row[0]), row[1]) if row else None
        return _Layer(desc, diff_id, known, self._sources(known) if known else ())

    def _parallel(self, fn, items) -> list:
        pool = ThreadPoolExecutor(max_workers=PARALLEL_UPLOADS, thread_name_prefix="krat-push")
        try:
            return [f.result() for f in [pool.submit(fn, item) for item in items]]
        except BaseException:
            self._cancel.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _send_layer(self, layer: _Layer) -> "Descriptor":
        """Runs in a worker thread (no database here); returns the descriptor as pushed."""
        from krat.registry import blobs

        if layer.local.media_type not in UNCOMPRESSED:
            self._send(layer.local, layer.sources)
            return layer.local
        location = None
        if layer.known is not None:
            placed = blobs.place(self.client, self.repo, layer.known, layer.sources)
            if isinstance(placed, blobs.Pushed):
                self._report(layer.local, placed, layer.sources)
                return layer.known
            location = placed
        return self._compress_upload(layer, location)

    def _compress_upload(self, layer: _Layer, location: str | None) -> "Descriptor":
        from krat.engine.layercompress import gzip_file
        from krat.registry import blobs
        from krat.registry.media import Descriptor

        content = self.images.content
        short = layer.local.digest.short

        def produce():
            with content.open(layer.local.digest) as f:
                yield from gzip_file(f, self._cancel.is_set)

        def progress(done: int) -> None:
            if self._cancel.is_set():
                raise _Cancelled()
            self.listener(Event(short, Status.PUSHING, done, 0))

        digest, size = blobs.upload_stream(self.client, self.repo, produce, location=location, progress=progress)
        self._report(layer.local, blobs.Pushed.UPLOADED, ())
        return Descriptor(UNCOMPRESSED[layer.local.media_type], digest, size)

    def _send(self, desc: "Descriptor", sources: tuple[str, ...], layer: bool = True) -> None:
        from krat.registry import blobs

        short = desc.digest.short

        def progress(done: int) -> None:
            if self._cancel.is_set():
                raise _Cancelled()
            if layer:
                self.listener(Event(short, Status.PUSHING, done, desc.size))

        result = blobs.upload(self.client, self.repo, desc, lambda: self.images.content.open(desc.digest),
                              mount_from=sources, progress=progress)
        if layer:
            self._report(desc, result, sources)

    def _report(self, desc: "Descriptor", result, sources: tuple[str, ...]) -> None:
        from krat.registry import blobs

        status = {blobs.Pushed.EXISTS: Status.LAYER_EXISTS, blobs.Pushed.MOUNTED: Status.MOUNTED,
                  blobs.Pushed.UPLOADED: Status.PUSHED}[result]
        detail = sources[0] if result is blobs.Pushed.MOUNTED and sources else ""
        self.listener(Event(desc.digest.short, status, desc.size, desc.size, detail))

    @staticmethod
    def _rewrite(manifest: "Manifest", pushed: list["Descriptor"]) -> "Manifest":
        """The manifest naming the blobs as pushed (unchanged bytes when nothing changed)."""
        from krat.oci.digest import sha256_bytes
        from krat.registry.media import Manifest

        if [d.digest for d in manifest.layers()] == [d.digest for d in pushed]:
            return manifest
        doc = json.loads(manifest.raw)
        doc["layers"] = [dict(entry, mediaType=d.media_type, digest=str(d.digest), size=d.size)
                         for entry, d in zip(doc["layers"], pushed)]
        raw = json.dumps(doc, separators=(",", ":")).encode()
        return Manifest(manifest.media_type, sha256_bytes(raw), raw)
