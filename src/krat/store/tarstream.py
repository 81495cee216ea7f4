"""Writing archives (save, export) fast: tar headers from the tarfile module, file data
copied by the kernel (sendfile) straight from the blob into the output."""

from __future__ import annotations

import os
import tarfile
import time
from typing import BinaryIO

BLOCK = 512
RECORD = 20 * BLOCK


class TarWriter:
    """A minimal streaming tar writer (PAX) over a file descriptor or binary stream."""

    def __init__(self, out: BinaryIO, mtime: float | None = None) -> None:
        self.out = out
        out.flush()
        self.fd = out.fileno()
        self.offset = 0
        self.mtime = int(time.time() if mtime is None else mtime)
        self.dirs: set[str] = set()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.offset += len(data)

    def _header(self, ti: tarfile.TarInfo) -> None:
        self._write(ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def _info(self, name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.size, ti.mtime = kind, mode, size, self.mtime
        return ti

    def directory(self, name: str) -> None:
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub not in self.dirs:
                self.dirs.add(sub)
                self._header(self._info(sub + "/", tarfile.DIRTYPE, 0o755))

    def _parents(self, name: str) -> None:
        parent = name.rpartition("/")[0]
        if parent:
            self.directory(parent)

    def add_bytes(self, name: str, data: bytes) -> None:
        self._parents(name)
        self._header(self._info(name, tarfile.REGTYPE, 0o644, len(data)))
        self._write(data)
        self._pad(len(data))

    def add_file(self, name: str, path: str | os.PathLike) -> None:
        """Add a regular file's bytes under `name`; the kernel copies them (sendfile)."""
        self._parents(name)
        with open(path, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            self._header(self._info(name, tarfile.REGTYPE, 0o644, size))
            sent = 0
            while sent < size:
                n = _copy(src.fileno(), self.fd, sent, size - sent)
                if n == 0:
                    raise OSError(f"{path} shrank while it was being archived")
                sent += n
        self.offset += size
        self._pad(size)

    def _pad(self, size: int) -> None:
        rest = size % BLOCK
        if rest:
            self._write(b"\0" * (BLOCK - rest))

    def close(self) -> None:
        self._write(b"\0" * (2 * BLOCK))
        rest = self.offset % RECORD
        if rest:
            self._write(b"\0" * (RECORD - rest))


def _copy(src_fd: int, dst_fd: int, offset: int, count: int) -> int:
    try:
        return os.sendfile(dst_fd, src_fd, offset, min(count, 1 << 30))
    except OSError:
        # e.g. a destination sendfile cannot write to: fall back to read + write
        data = os.pread(src_fd, min(count, 1 << 20), offset)
        view = memoryview(data)
        while view:
            n = os.write(dst_fd, view)
            view = view[n:]
        return len(data)
