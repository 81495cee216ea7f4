"""The real Backend: krat's image store for images and layers, krat's runtime for RUN.

Layers a build makes are stored as uncompressed blobs (blob digest = diff_id) and
unpacked once into the shared layer directories, so a later build's cache hit reuses
them without copying; the final image is registered from blobs already in the store.
Working directories live under <root>/tmp/build so overlay upper/work dirs share a
filesystem with the layers. Each is paired with a `<dir>.lock` held (flock) while the
build lives; a later build that can take a lock knows its owner died and removes what
it left: the RUN container (killed and deleted), mounts below the directory, the files.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from krat.build.backend import BaseImage, Layer, Output, RunSpec
from krat.errors import KratError, NotFound

STALE_S = 24 * 3600


class StoreBackend:
    def __init__(self, paths, db=None) -> None:
        from krat.engine.images import ImageService

        self.paths = paths
        self.images = ImageService(paths, db)
        self.tmp = Path(paths.tmp, "build")
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._locks: dict[Path, int] = {}
        self._sweep()

    def _sweep(self) -> None:
        """Remove what builds that died left behind (their locks are free)."""
        cutoff = time.time() - STALE_S
        for entry in os.scandir(self.tmp):
            path = Path(entry.path)
            if entry.name.endswith(".lock"):
                self._reap(path)
            elif not Path(entry.path + ".lock").exists():
                try:  # no lock: a half-written temp file, or older than locks
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        self._remove(path)
                except OSError:
                    pass

    def _reap(self, lock: Path) -> None:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return  # its build is alive
        try:
            self._remove(Path(str(lock)[: -len(".lock")]))
            lock.unlink(missing_ok=True)
        finally:
            os.close(fd)

    def _remove(self, path: Path) -> None:
        from krat.build.sandbox import forget_container
        from krat.store.snapshots import unmount

        marker = path / "container-id"
        if marker.is_file():
            forget_container(marker.read_text().strip(), Path(self.paths.runroot, "build-runtime"))
        prefix = str(path.resolve()) + "/"
        with open("/proc/self/mountinfo") as f:
            below = [line.split()[4] for line in f if line.split()[4].startswith(prefix)]
        for target in sorted(below, key=len, reverse=True):
            unmount(Path(target), lazy=True)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    # -- images and layers ------------------------------------------------------------------

    def image(self, ref: str, pull: bool) -> BaseImage:
        """A base image: local, else pulled (always with --pull), as `docker build` does."""
        from krat.oci.image import Manifest

        img = None
        if not pull:
            try:
                img = self.images.resolve(ref)  # local first: no registry code on the hot path
            except NotFound:
                pass
        if img is None:
            img = self._pull(ref, pull)
        manifest = Manifest.parse(self.images.manifest_bytes(img), f"manifest of {img.short_id}")
        layers = [Layer(d, Path(p), 0, desc.to_dict())
                  for d, p, desc in zip(img.diff_ids, img.layer_dirs, manifest.layers)]
        return BaseImage(img.id, img.config_doc, layers)

    def _pull(self, ref: str, always: bool):
        from krat.engine.registries import ensure_image

        try:
            return ensure_image(self.paths, ref, "always" if always else "missing")
        except NotFound:
            raise
        except KratError as err:
            if always:
                raise
            raise NotFound(f"No such image: {ref} (not found locally; pulling it failed: {err.message})") from None

    def layer(self, diff_id: str) -> Layer | None:
        layers = self.images.layers
        if not layers.has(diff_id) or not self.images.content.has(diff_id):
            return None
        return Layer(diff_id, Path(layers.diff_dir(diff_id)), layers.size(diff_id))

    def workdir(self, name: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp))
        fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._locks[path] = fd
        os.chmod(path, 0o755)  # an overlay's root takes its upper dir's mode: users must traverse /
        return path

    def release(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)
        fd = self._locks.pop(path, None)
        if fd is not None:
            os.unlink(str(path) + ".lock")
            os.close(fd)

    def commit(self, upper: Path) -> Layer | None:
        from krat.store.diff import diff

        if not any(os.scandir(upper)):
            return None
        fd, tar_path = tempfile.mkstemp(prefix="layer-", suffix=".tar", dir=self.tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                diff(upper, out)
            ingested = self.images.content.ingest_file(Path(tar_path))
            unpacked = self.images.layers.unpack_file(self.images.content.path(ingested.digest),
                                                      expected=ingested.digest)
        finally:
            os.unlink(tar_path)
        diff_id = str(unpacked.diff_id)
        return Layer(diff_id, Path(self.images.layers.diff_dir(diff_id)), unpacked.size)

    def cache_dir(self, mount_id: str) -> Path:
        path = Path(self.paths.root, "build-cache-mounts", hashlib.sha256(mount_id.encode()).hexdigest()[:32])
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- running ----------------------------------------------------------------------------

    def run(self, lowers: list[Path], upper: Path, spec: RunSpec, output: Output) -> int:
        from krat.build.sandbox import container_prefix, run_step

        work = self.workdir("run")
        try:
            return run_step(lowers, upper, work, spec, output, Path(self.paths.runroot, "build-runtime"),
                            container_prefix(self.paths.root))
        finally:
            self.release(work)

    # -- the image ----------------------------------------------------------------------------

    def create_image(self, config_doc: dict, layers: list[Layer], tags: list[str]) -> str:
        from krat.oci.image import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, canonical_json

        content = self.images.content
        config = content.ingest_bytes(canonical_json(config_doc))
        descriptors = []
        for layer in layers:
            if layer.descriptor is not None:
                descriptors.append(layer.descriptor)
            else:
                descriptors.append({"mediaType": OCI_LAYER, "digest": layer.diff_id,
                                    "size": content.size(layer.diff_id)})
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": str(config.digest), "size": config.size},
                    "layers": descriptors}
        ingested = content.ingest_bytes(canonical_json(manifest))
        image = self.images.register(str(ingested.digest), tags)
        return image.id
