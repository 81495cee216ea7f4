"""Layer directories: each layer unpacked once, shared by every image that contains it.

    <paths.layers>/<diff hex>/diff     the unpacked layer (an overlay lowerdir)
    <paths.layers>/<diff hex>/size     bytes of the uncompressed layer tar
    <paths.layers>/l/<short>           symlink -> ../<diff hex>/diff (short lowerdir names,
                                       so many layers fit in one page of mount options)
    <paths.layers>/.tmp/, .trash/      unpacks in progress, removals in progress

A layer is unpacked into .tmp and renamed into place when complete and verified, so a
directory named by a diff_id is always whole. Reference counts live in the database
(engine/images.py owns them); `remove` is called when a count reaches zero.

Others use:
    LayerStore(paths.layers).unpack(stream, expected_diff_id) -> Unpacked
    LayerStore(...).diff_dir(diff_id) -> str                   (a lowerdir)
    diff(upper_dir, out_stream)                                 (overlay upper -> layer tar)
"""

from __future__ import annotations

import io
import os
import time

from krat.errors import InvalidArgument
from krat.oci.digest import Digest
from krat.oci.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Iterator


def __getattr__(name: str):
    """`diff` (store/diff.py, tarfile) loads on first use: `krat run` reads only paths here."""
    if name == "diff":
        from krat.store.diff import diff

        return diff
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["LayerStore", "Unpacked", "diff", "short_name"]

LINKS = "l"


def short_name(diff_id: Digest | str) -> str:
    """26 base32 characters (130 bits) of a diff_id (or its hex): unique in any real store, short in mount options."""
    if isinstance(diff_id, Digest):
        hex_ = diff_id.hex
    else:
        hex_ = diff_id if ":" not in diff_id else Digest.parse(diff_id).hex
    # The first 26 characters of base64.b32encode of 17 bytes: their top 130 bits, 5 at a time
    # (written out: the base64 module is not loaded on `krat run`'s path for this).
    bits = int.from_bytes(bytes.fromhex(hex_)[:17], "big") >> 6
    return "".join(_B32[(bits >> shift) & 31] for shift in range(125, -1, -5))


_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@record(frozen=True)
class Unpacked:
    diff_id: Digest
    size: int
    new: bool


def _is_plain_file(stream: BinaryIO) -> bool:
    """A regular file holding an uncompressed tar (so it can be unpacked in place)."""
    import stat

    try:
        fd = stream.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        from krat.store.compression import detect

        return detect(os.pread(fd, 4, 0)) == "none"
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False


def _rmtree(path: str) -> None:
    import shutil  # loads fnmatch, bz2 and lzma (~1.5 ms): a `krat run` only reads layer paths

    shutil.rmtree(path, ignore_errors=True)


def _hash_file(stream: BinaryIO) -> Digest:
    import hashlib

    stream.seek(0)
    return Digest.from_sha256(hashlib.file_digest(stream, "sha256").hexdigest())


class LayerStore:
    def __init__(self, root: "str | os.PathLike[str]") -> None:
        self.root = os.fspath(root)

    def _hex(self, diff_id: Digest | str) -> str:
        d = diff_id if isinstance(diff_id, Digest) else Digest.parse(diff_id)
        return d.hex

    def dir(self, diff_id: Digest | str) -> str:
        return os.path.join(self.root, self._hex(diff_id))

    def diff_dir(self, diff_id: Digest | str) -> str:
        return os.path.join(self.dir(diff_id), "diff")

    def link(self, diff_id: Digest | str) -> str:
        return os.path.join(self.root, LINKS, short_name(diff_id))

    def has(self, diff_id: Digest | str) -> bool:
        return os.path.isdir(self.diff_dir(diff_id))

    def size(self, diff_id: Digest | str) -> int:
        try:
            with open(os.path.join(self.dir(diff_id), "size")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0

    def unpack(self, stream: BinaryIO, expected: Digest | str | None = None,
               verified_digest: bool = False) -> Unpacked:
        """Unpack a (possibly compressed) layer stream unless that diff_id is already here.

        The diff_id is verified against `expected` before the directory becomes visible;
        `verified_digest` says the caller knows `stream` is a file whose sha256 is `expected`
        (a content store blob named by it), so it need not be hashed again.
        """
        if expected is not None and self.has(expected):
            d = expected if isinstance(expected, Digest) else Digest.parse(expected)
            return Unpacked(d, self.size(d), False)
        tmp = self._tmpdir()
        into = os.path.join(tmp, "diff")
        try:
            os.mkdir(into, 0o755)
            verified = expected is not None and _is_plain_file(stream)
            if verified:
                # a plain tar in a regular file: unpack in place; its digest is checked below
                from krat.store.apply import apply_tar

                apply_tar(stream, into, seekable=True)
                size = os.fstat(stream.fileno()).st_size
                digest = Digest.parse(str(expected)) if verified_digest else _hash_file(stream)
            else:
                from krat.store.apply import apply_tar
                from krat.store.compression import HashingReader, decompressed

                reader = HashingReader(decompressed(stream))
                apply_tar(reader, into)
                reader.drain()
                digest, size = reader.digest, reader.size
            if expected is not None and str(expected) != str(digest):
                raise InvalidArgument(f"layer diff_id mismatch: expected {expected}, content has {digest}")
            with open(os.path.join(tmp, "size"), "w") as f:
                f.write(str(size))
            return Unpacked(digest, size, self._publish(tmp, digest))
        finally:
            if os.path.exists(tmp):
                _rmtree(tmp)

    def unpack_file(self, path: "str | os.PathLike[str]", expected: Digest | str | None = None,
                    verified_digest: bool = False) -> Unpacked:
        with open(path, "rb") as f:
            return self.unpack(f, expected, verified_digest)

    def _tmpdir(self) -> str:
        base = os.path.join(self.root, ".tmp")
        os.makedirs(base, exist_ok=True)
        import uuid

        tmp = os.path.join(base, uuid.uuid4().hex)
        os.mkdir(tmp, 0o700)
        return tmp

    def _publish(self, tmp: str, digest: Digest) -> bool:
        target = self.dir(digest)
        try:
            os.rename(tmp, target)
        except OSError:
            if not self.has(digest):
                raise
            return False  # another process unpacked the same layer first
        self._ensure_link(digest)
        return True

    def _ensure_link(self, digest: Digest) -> None:
        links = os.path.join(self.root, LINKS)
        os.makedirs(links, exist_ok=True)
        link = os.path.join(links, short_name(digest))
        try:
            os.symlink(f"../{digest.hex}/diff", link)
        except FileExistsError:
            pass

    def remove(self, diff_id: Digest | str) -> None:
        """Delete a layer directory: rename it away first (atomic), then remove the files."""
        target = self.dir(diff_id)
        try:
            os.unlink(self.link(diff_id))
        except FileNotFoundError:
            pass
        if not os.path.exists(target):
            return
        trash = os.path.join(self.root, ".trash")
        os.makedirs(trash, exist_ok=True)
        import uuid

        moved = os.path.join(trash, f"{os.path.basename(target)}-{uuid.uuid4().hex[:8]}")
        os.rename(target, moved)
        _rmtree(moved)

    def list(self) -> Iterator[Digest]:
        if not os.path.isdir(self.root):
            return
        for entry in os.scandir(self.root):
            if len(entry.name) == 64 and not entry.name.startswith("."):
                yield Digest.from_sha256(entry.name)

    def cleanup(self, older_than_s: float = 3600.0) -> None:
        """Remove unpacks abandoned by killed processes, and unfinished removals."""
        cutoff = time.time() - older_than_s
        for name in (".tmp", ".trash"):
            folder = os.path.join(self.root, name)
            if not os.path.isdir(folder):
                continue
            for entry in os.scandir(folder):
                if name == ".trash" or entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    _rmtree(entry.path)
