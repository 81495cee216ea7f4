"""Build small layer tarballs in tests: `make_tar([entry(...), ...]) -> bytes`."""

from __future__ import annotations

import io
import tarfile


def entry(name: str, kind: str = "file", data: bytes = b"", link: str = "", mode: int | None = None,
          uid: int = 0, gid: int = 0, pax: dict | None = None, major: int = 0, minor: int = 0) -> tuple:
    return (name, kind, data, link, mode, uid, gid, pax or {}, major, minor)


_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
          "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE,
          "fifo": tarfile.FIFOTYPE}


def make_tar(entries: list[tuple]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data, link, mode, uid, gid, pax, major, minor in entries:
            ti = tarfile.TarInfo(name)
            ti.type = _TYPES[kind]
            ti.mode = mode if mode is not None else (0o755 if kind == "dir" else 0o644)
            ti.uid, ti.gid, ti.mtime = uid, gid, 1_000_000_000
            ti.linkname = link
            ti.devmajor, ti.devminor = major, minor
            if pax:
                ti.pax_headers = pax
            if kind == "file":
                ti.size = len(data)
                tar.addfile(ti, io.BytesIO(data))
            else:
                tar.addfile(ti)
    return buf.getvalue()
