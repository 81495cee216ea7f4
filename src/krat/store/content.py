"""The content store: an OCI image layout of verified, content-addressed blobs.

    <paths.content>/oci-layout           {"imageLayoutVersion": "1.0.0"}
    <paths.content>/blobs/sha256/<hex>   one blob per digest, never modified
    <paths.content>/ingest/              temporary files being written (same filesystem)

Every write goes to a temporary file that is hashed as it is written, fsynced, then
renamed to its digest's name, so a reader never sees a partial blob and a crash leaves
only a stray temporary file (removed by `cleanup_ingest`). Which blobs are in use is
the database's business (engine/images.py); this module only stores bytes.
"""

from __future__ import annotations

import json
import os
import time

from krat.errors import InvalidArgument, NotFound
from krat.oci.digest import Digest
from krat.oci.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Iterator

CHUNK = 1 << 20
HASH_CHUNK = 8 << 20
LAYOUT = {"imageLayoutVersion": "1.0.0"}


@record(frozen=True)
class Ingested:
    """A blob now in the store; `new` when this call added it (so a failed caller may undo it)."""

    digest: Digest
    size: int
    new: bool


class BlobWriter:
    """Streams bytes into a temporary file while hashing them; `commit` moves it into place."""

    def __init__(self, store: "ContentStore") -> None:
        self.store = store
        store.ensure()
        self._fd, self.tmp = _mkstemp(store.ingest_dir)
        import hashlib  # loads OpenSSL (~3 ms): only writers need it, `krat run` only reads

        self._hash = hashlib.sha256()
        self.size = 0
        self._done = False

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        self._hash.update(view)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self.size += len(data)
        return len(data)

    def copy_from(self, stream: BinaryIO) -> None:
        read = getattr(stream, "read1", stream.read)
        while chunk := read(CHUNK):
            self.write(chunk)

    def copy_range(self, src_fd: int, offset: int, size: int) -> None:
        """Add `size` bytes of file `src_fd` from `offset`: hashed through a memory map,
        copied by the kernel (no Python buffers: `load` of large archives is I/O-bound)."""
        if size <= 0:
            return
        import mmap

        import threading

        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        with mmap.mmap(src_fd, size + offset - start, prot=mmap.PROT_READ, offset=start) as mm:
            view = memoryview(mm)
            # hashing releases the GIL: hash in a thread while the kernel copies
            hasher = threading.Thread(target=self._hash_view, args=(view, offset - start, size))
            hasher.start()
            try:
                copy_range(src_fd, self._fd, offset, size)
            finally:
                hasher.join()
                view.release()
        self.size += size

    def _hash_view(self, view: memoryview, begin: int, size: int) -> None:
        for pos in range(begin, begin + size, HASH_CHUNK):
            self._hash.update(view[pos:min(pos + HASH_CHUNK, begin + size)])

    @property
    def digest(self) -> Digest:
        return Digest.from_sha256(self._hash.hexdigest())

    def commit(self, expected: Digest | str | None = None, expected_size: int | None = None) -> Ingested:
        digest = self.digest
        try:
            if expected is not None and str(expected) != str(digest):
                raise InvalidArgument(f"digest mismatch: expected {expected}, content has {digest}")
            if expected_size is not None and expected_size != self.size:
                raise InvalidArgument(f"size mismatch for {digest}: expected {expected_size} bytes, got {self.size}")
            target = self.store.path(digest)
            if os.path.exists(target):
                return Ingested(digest, self.size, False)
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
            os.chmod(self.tmp, 0o644)
            os.rename(self.tmp, target)
            self._done = True
            return Ingested(digest, self.size, True)
        finally:
            self.abort()

    def abort(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if not self._done:
            _unlink(self.tmp)
            self._done = True

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class ContentStore:
    def __init__(self, root: "str | os.PathLike[str]") -> None:
        self.root = os.fspath(root)
        self.blobs = os.path.join(self.root, "blobs", "sha256")
        self.ingest_dir = os.path.join(self.root, "ingest")
        self._ready = False

    def ensure(self) -> None:
        if self._ready:
            return
        os.makedirs(self.blobs, exist_ok=True)
        os.makedirs(self.ingest_dir, exist_ok=True)
        layout = os.path.join(self.root, "oci-layout")
        if not os.path.exists(layout):
            with open(layout, "w") as f:
                f.write(json.dumps(LAYOUT))
        self._ready = True

    def path(self, digest: Digest | str) -> str:
        d = digest if isinstance(digest, Digest) else Digest.parse(digest)
        if d.algorithm != "sha256":
            raise InvalidArgument(f"unsupported digest algorithm in {d}")
        return os.path.join(self.blobs, d.hex)

    def has(self, digest: Digest | str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: Digest | str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found in the content store") from None

    def open(self, digest: Digest | str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found in the content store") from None

    def read(self, digest: Digest | str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def read_json(self, digest: Digest | str) -> dict:
        try:
            doc = json.loads(self.read(digest))
        except ValueError as err:
            raise InvalidArgument(f"blob {digest} is not valid JSON: {err}") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"blob {digest} is not a JSON object")
        return doc

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

    def ingest_bytes(self, data: bytes, expected: Digest | str | None = None) -> Ingested:
        with self.writer() as w:
            w.write(data)
            return w.commit(expected)

    def ingest_stream(self, stream: BinaryIO, expected: Digest | str | None = None,
                      expected_size: int | None = None) -> Ingested:
        with self.writer() as w:
            w.copy_from(stream)
            return w.commit(expected, expected_size)

    def ingest_range(self, src_fd: int, offset: int, size: int,
                     expected: Digest | str | None = None) -> Ingested:
        """Ingest a byte range of an open regular file (a member of an archive on disk)."""
        with self.writer() as w:
            w.copy_range(src_fd, offset, size)
            return w.commit(expected, size)

    def ingest_file(self, path: "str | os.PathLike[str]", expected: Digest | str | None = None) -> Ingested:
        with open(path, "rb") as f:
            return self.ingest_stream(f, expected)

    def delete(self, digest: Digest | str) -> None:
        _unlink(self.path(digest))

    def list(self) -> Iterator[Digest]:
        if not os.path.isdir(self.blobs):
            return
        for entry in os.scandir(self.blobs):
            yield Digest.from_sha256(entry.name)

    def cleanup_ingest(self, older_than_s: float = 3600.0) -> int:
        """Remove temporary files left by killed writers (old enough to be nobody's)."""
        if not os.path.isdir(self.ingest_dir):
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for entry in os.scandir(self.ingest_dir):
            try:
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    if entry.is_dir(follow_symlinks=False):
                        import shutil  # not at the top: a `krat run` only reads blobs (fnmatch, bz2, lzma)

                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def copy_range(src_fd: int, dst_fd: int, offset: int, size: int) -> None:
    """Copy `size` bytes at `offset` of src_fd to dst_fd's position, in the kernel."""
    done = 0
    use_cfr = True
    while done < size:
        count = min(size - done, 1 << 30)
        try:
            if use_cfr:
                n = os.copy_file_range(src_fd, dst_fd, count, offset + done)
            else:
                n = os.sendfile(dst_fd, src_fd, offset + done, count)
        except OSError:
            if not use_cfr:
                raise
            use_cfr = False  # e.g. EXDEV across filesystems: sendfile copies in the kernel too
            continue
        if n == 0:
            raise InvalidArgument(f"source ended {size - done} bytes early (truncated)")
        done += n


def _mkstemp(folder: str) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(dir=folder, prefix="blob-")


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
