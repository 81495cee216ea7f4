"""Layer compression: detect gzip / zstd / plain by magic number, decompress as a stream, hash.

OCI layers come as tar, tar+gzip or tar+zstd; a diff_id is the sha256 of the
*uncompressed* tar, so readers here count and hash what passes through them.
"""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO

from krat.errors import InvalidArgument
from krat.oci.digest import Digest

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20


def detect(head: bytes) -> str:
    """'gzip', 'zstd' or 'none' from the first bytes of a stream."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read (to sniff the format)."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        if self._head:
            n = min(len(buf), len(self._head))
            buf[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def sniff(stream: BinaryIO) -> tuple[str, BinaryIO]:
    """Return the compression of `stream` and a stream that still yields every byte."""
    head = _read_exact(stream, 4)
    return detect(head), io.BufferedReader(_Prefixed(head, stream), CHUNK)


def decompressed(stream: BinaryIO) -> BinaryIO:
    """A reader of the uncompressed bytes of `stream`, whatever its compression."""
    kind, stream = sniff(stream)
    if kind == "gzip":
        try:  # ISA-L inflates ~4x faster than zlib (a pinned dependency; absent on some arches)
            from isal.igzip import IGzipFile as GzipFile
        except ImportError:
            from gzip import GzipFile
        return GzipFile(fileobj=stream, mode="rb")
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
    return stream


class HashingReader(io.RawIOBase):
    """Passes reads through, hashing and counting them; `drain` reads to the end."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._stream.read(n) if n is not None and n >= 0 else self._stream.read()
        except (OSError, EOFError, ValueError) as err:
            raise InvalidArgument(f"corrupt or truncated compressed stream: {err}") from None
        except Exception as err:  # zstandard raises its own ZstdError
            raise InvalidArgument(f"corrupt or truncated compressed stream: {err}") from None
        self._hash.update(data)
        self.size += len(data)
        return data

    def readinto(self, buf) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> Digest:
        return Digest.from_sha256(self._hash.hexdigest())


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = stream.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out
