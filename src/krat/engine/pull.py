"""`pull`: fetch an image from a registry into the store, all or nothing.

Order: manifest (an index picks this machine's platform, or --platform), then the config,
then the layers in parallel threads, each streamed into the content store's ingest area,
verified against its digest and renamed into place. Only when every blob is in does
`ImageService.register` unpack the layers and add the rows in one transaction. (Unpacking
each layer as soon as it arrived measured no faster: register then proves each blob's
diff_id again, decompressing it a second time.) On any
failure the blobs this pull added (and no image uses) are removed again.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from krat.engine.registries import Access, candidates, mirrors, open_client
from krat.engine.transfers import Event, Listener, Status, ignore
from krat.errors import InvalidArgument, KratError, NotFound, Unavailable
from krat.oci.reference import Reference

if TYPE_CHECKING:
    from krat.engine.config import Paths
    from krat.engine.images import ImageService
    from krat.registry.client import RegistryClient
    from krat.registry.media import Descriptor, Manifest, Platform

PARALLEL_DOWNLOADS = 3  # Docker's max-concurrent-downloads default


@dataclass(frozen=True)
class PullResult:
    reference: Reference
    image_id: str
    digest: str          # what the registry calls it: the index digest for a multi-arch image
    downloaded: bool     # False: every blob was already here ("Image is up to date")


class _Cancelled(Exception):
    """Another download failed: stop this one."""


def pull(paths: "Paths", text: str, *, all_tags: bool = False, access: Access = Access(),
         listener: Listener | None = None) -> list[PullResult]:
    """Pull `text` (name[:tag] or name@digest); with all_tags, every tag of the repository."""
    from krat.engine.images import ImageService

    refs = candidates(text)
    images = ImageService(paths)
    errors: list[KratError] = []
    for ref in refs:
        try:
            if all_tags:
                return _pull_all_tags(images, ref, text, access, listener or ignore)
            return [_pull_from_sources(images, ref, access, listener or ignore)]
        except NotFound as err:
            errors.append(err)
    raise errors[0] if len(errors) == 1 else NotFound(
        f"{text}: not found in any of {', '.join(r.domain for r in refs)}: {errors[-1]}")


def _pull_all_tags(images, ref: Reference, text: str, access: Access, listener: Listener) -> list[PullResult]:
    if ref.digest is not None or (":" in text.rsplit("/", 1)[-1]):
        raise InvalidArgument("tag can't be used with --all-tags/-a")
    with open_client(ref.domain, access) as client:
        tags = client.tags(ref.path, what=f"tags of {ref.familiar_repository}")
    if not tags:
        raise NotFound(f"repository {ref.familiar_repository} has no tags")
    return [_pull_from_sources(images, ref.with_tag(tag), access, listener) for tag in sorted(tags)]


def _pull_from_sources(images, ref: Reference, access: Access, listener: Listener) -> PullResult:
    """Mirrors first (registries.conf), then the registry itself."""
    sources = [*mirrors(ref.domain), ref.domain]
    for i, domain in enumerate(sources):
        try:
            with open_client(domain, access) as client:
                return Puller(images, client, ref, access, listener).run()
        except (NotFound, Unavailable):
            if i == len(sources) - 1:
                raise
    raise AssertionError("unreachable")


class Puller:
    def __init__(self, images: "ImageService", client: "RegistryClient", ref: Reference, access: Access,
                 listener: Listener) -> None:
        self.images = images
        self.client = client
        self.ref = ref
        self.repo = ref.path
        self.access = access
        self.listener = listener
        self.added: list[str] = []
        self.downloaded = False
        self._cancel = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> PullResult:
        top = self.client.get_manifest(self.repo, str(self.ref.digest or self.ref.tag),
                                       what=f"manifest for {self.ref.familiar}")
        manifest = self._platform_manifest(top)
        try:
            self._fetch(manifest)
            image = self.images.register(str(manifest.digest), [str(self.ref)] if self.ref.tag else [],
                                         repo_digests=[f"{self.ref.repository}@{top.digest}"])
        except BaseException:
            self._undo()
            raise
        self._record_sources(manifest)
        return PullResult(self.ref, image.id, str(top.digest), self.downloaded)

    def _platform_manifest(self, top: "Manifest") -> "Manifest":
        from krat.registry.media import MANIFEST_TYPES
        from krat.registry.platforms import host_platform, parse_platform, select

        manifest = top
        if top.is_index:
            want = parse_platform(self.access.platform) if self.access.platform else host_platform()
            chosen = select(top.children(), want)
            manifest = self.client.get_manifest(self.repo, str(chosen.digest),
                                                what=f"manifest {chosen.digest} of {self.ref.familiar}")
        if manifest.media_type not in MANIFEST_TYPES:
            raise InvalidArgument(f"{self.ref.familiar}: unsupported manifest type {manifest.media_type!r}")
        return manifest

    def _fetch(self, manifest: "Manifest") -> None:
        config = manifest.config()
        self._blob(config)
        self._check_platform(config)
        layers = manifest.layers()
        diff_ids = self.images.content.read_json(config.digest).get("rootfs", {}).get("diff_ids") or []
        if len(diff_ids) != len(layers):
            raise InvalidArgument(f"{self.ref.familiar}: the manifest has {len(layers)} layers but its config "
                                  f"lists {len(diff_ids)} diff_ids")
        for layer in layers:
            self.listener(Event(layer.digest.short, Status.PULLING_FS_LAYER, 0, layer.size))
        pool = ThreadPoolExecutor(max_workers=PARALLEL_DOWNLOADS, thread_name_prefix="krat-pull")
        try:
            futures = [pool.submit(self._blob, layer, True) for layer in layers]
            for future in futures:
                future.result()
        except BaseException:
            self._cancel.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        self._ingest(manifest.raw, str(manifest.digest))

    def _blob(self, desc: "Descriptor", layer: bool = False) -> None:
        from krat.registry import blobs

        content = self.images.content
        short = desc.digest.short
        if content.has(desc.digest):
            if layer:
                self.listener(Event(short, Status.ALREADY_EXISTS))
            return
        sink = _WriterSink(content)

        def progress(done: int) -> None:
            if self._cancel.is_set():
                raise _Cancelled()
            if layer:
                self.listener(Event(short, Status.DOWNLOADING, done, desc.size))

        try:
            blobs.download(self.client, self.repo, desc, sink, progress)
            ingested = sink.writer.commit(desc.digest, desc.size)
        finally:
            sink.writer.abort()
        with self._lock:
            self.downloaded = True
            if ingested.new:
                self.added.append(str(desc.digest))
        if layer:
            self.listener(Event(short, Status.DOWNLOAD_COMPLETE, desc.size, desc.size))

    def _check_platform(self, config: "Descriptor") -> None:
        """A single-platform image must match an explicit --platform (Docker 24+ refuses too)."""
        from krat.registry.platforms import matches, parse_platform
        from krat.registry.media import Platform

        if not self.access.platform:
            return
        doc = self.images.content.read_json(config.digest)
        have = Platform(str(doc.get("os", "")), str(doc.get("architecture", "")), doc.get("variant"))
        want = parse_platform(self.access.platform)
        if not matches(want, have):
            raise NotFound(f"image {self.ref.familiar} was found but its platform ({have}) does not match "
                           f"the specified platform ({want})")

    def _ingest(self, raw: bytes, digest: str) -> None:
        ingested = self.images.content.ingest_bytes(raw, digest)
        if ingested.new:
            self.added.append(digest)

    def _undo(self) -> None:
        from krat.db import registry as q

        for digest in self.added:
            try:
                if not q.blob_in_use(self.images.db, digest):
                    self.images.content.delete(digest)
            except Exception:  # cleanup must not hide the original error; next prune finds it
                continue

    def _record_sources(self, manifest: "Manifest") -> None:
        from krat.db import registry as q

        digests = [str(d.digest) for d in (manifest.config(), *manifest.layers())]
        q.add_sources(self.images.db, digests, self.ref.domain, self.repo)


class _WriterSink:
    """Feeds a download into the content store's BlobWriter; a restart begins a new one."""

    def __init__(self, content) -> None:
        self.content = content
        self.writer = content.writer()

    def write(self, data: bytes) -> object:
        return self.writer.write(data)

    def restart(self) -> None:
        self.writer.abort()
        self.writer = self.content.writer()

    @property
    def digest(self):
        """What the writer hashed so far (the download verifies against it)."""
        return self.writer.digest
