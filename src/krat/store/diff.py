"""An overlay upper directory -> an OCI layer tar (the reverse of apply.py).

    0/0 character device (or user.overlay.whiteout)  ->  .wh.<name>
    directory with trusted.overlay.opaque=y          ->  the directory + <dir>/.wh..wh..opq
    regular files sharing an inode                   ->  one file, then hardlinks to it
    security.capability, user.* xattrs               ->  PAX SCHILY.xattr.* records

Entries are written in sorted order with their own mtimes, so the same upper
directory always gives the same tar (and the same diff_id).
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from typing import BinaryIO, Iterable

from krat.store.apply import OPAQUE, WHITEOUT_PREFIX, XATTR_PREFIX

_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
_KEPT = ("security.capability", "user.")


def _xattr(path: str, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


def _is_whiteout(path: str, st: os.stat_result) -> bool:
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return True
    return stat.S_ISREG(st.st_mode) and st.st_size == 0 and _xattr(path, "user.overlay.whiteout") is not None


def _is_opaque(path: str) -> bool:
    return any(_xattr(path, name) == b"y" for name in _OPAQUE_XATTRS)


def _pax_xattrs(path: str) -> dict[str, str]:
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in names:
        if name.startswith(_KEPT) and not name.startswith("user.overlay."):
            value = _xattr(path, name)
            if value is not None:
                out[XATTR_PREFIX + name] = value.decode("utf-8", "surrogateescape")
    return out


def _info(name: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.mtime = int(st.st_mtime)
    return ti


def _whiteout_info(name: str, st: os.stat_result) -> tarfile.TarInfo:
    ti = _info(name, st, tarfile.REGTYPE)
    ti.mode = 0o644
    return ti


class _Writer:
    def __init__(self, tar: tarfile.TarFile, leave_out: frozenset[str] = frozenset()) -> None:
        self.tar = tar
        self.inodes: dict[tuple[int, int], str] = {}
        self.leave_out = leave_out
        self.their_dirs = {posixpath.dirname(name) for name in leave_out}

    def entry(self, path: str, name: str) -> None:
        if name in self.leave_out:
            return
        st = os.lstat(path)
        if name in self.their_dirs and stat.S_ISDIR(st.st_mode) and self._only_left_out(path, name):
            return
        parent, _, base = name.rpartition("/")
        prefix = parent + "/" if parent else ""
        if _is_whiteout(path, st):
            self.tar.addfile(_whiteout_info(prefix + WHITEOUT_PREFIX + base, st))
            return
        if stat.S_ISDIR(st.st_mode):
            self.tar.addfile(self._with_xattrs(_info(name, st, tarfile.DIRTYPE), path))
            if _is_opaque(path):
                self.tar.addfile(_whiteout_info(f"{name}/{OPAQUE}", st))
            self.walk(path, name)
        elif stat.S_ISREG(st.st_mode):
            self.regular(path, name, st)
        elif stat.S_ISLNK(st.st_mode):
            ti = _info(name, st, tarfile.SYMTYPE)
            ti.linkname = os.readlink(path)
            self.tar.addfile(ti)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            ti = _info(name, st, tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE)
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tar.addfile(ti)
        elif stat.S_ISFIFO(st.st_mode):
            self.tar.addfile(_info(name, st, tarfile.FIFOTYPE))
        # sockets are not representable in a tar; skipped like Docker does

    def regular(self, path: str, name: str, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.inodes:
            ti = _info(name, st, tarfile.LNKTYPE)
            ti.linkname = self.inodes[key]
            self.tar.addfile(ti)
            return
        if st.st_nlink > 1:
            self.inodes[key] = name
        ti = self._with_xattrs(_info(name, st, tarfile.REGTYPE), path)
        ti.size = st.st_size
        with open(path, "rb") as f:
            self.tar.addfile(ti, f)

    def _with_xattrs(self, ti: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
        xattrs = _pax_xattrs(path)
        if xattrs:
            ti.pax_headers = xattrs
        return ti

    def _only_left_out(self, path: str, name: str) -> bool:
        """A directory in the layer only for what is left out (copied up or made for it)."""
        children = os.listdir(path)
        return bool(children) and not _is_opaque(path) and all(f"{name}/{c}" in self.leave_out for c in children)

    def walk(self, folder: str, name: str) -> None:
        for entry in sorted(os.listdir(folder)):
            self.entry(os.path.join(folder, entry), f"{name}/{entry}" if name else entry)


def diff(upper: "str | os.PathLike[str]", out: BinaryIO, leave_out: Iterable[str] = ()) -> None:
    """Write the OCI layer tar (uncompressed) for the overlay upper directory `upper` to `out`.
    leave_out: paths ("etc/hosts") not to put in it, nor a directory that holds only them."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _Writer(tar, frozenset(leave_out)).walk(str(upper), "")
