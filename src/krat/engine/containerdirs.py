"""Making a container's directories, and the hint that spreads them over the disk.

A container's storage and run directories are made at its create and removed at its rm,
hundreds of times a minute under `run --rm`. On ext4 without a journal, a new inode skips
those freed in the last half minute in its block group, reading their inode table to tell
(the allocator's recently_deleted): in a directory where containers come and go, each new
one paid for the ones before it (~0.7 ms an inode in bursts, measured). The first time krat
makes the folder that holds them, it marks it a top of directory hierarchies (chattr +T,
FS_TOPDIR_FL): ext4's Orlov allocator then spreads its subdirectories over the block groups
instead of packing them beside their parent. A filesystem without the flag ignores it.
"""

from __future__ import annotations

import os

FS_IOC_GETFLAGS, FS_IOC_SETFLAGS = 0x80086601, 0x40086602   # _IOR/_IOW('f', 1/2, long)
FS_TOPDIR_FL = 0x00020000


def make_dirs(top: str, subs: tuple[str, ...] = ()) -> None:
    """makedirs(top/sub, exist_ok=True) for each sub, in one mkdir each: makedirs stats every
    parent first, and a new container's directories are new (their parents exist but for
    the store's very first container: then top's parent is made and marked, see above)."""
    for path in (top, *(os.path.join(top, sub) for sub in subs)):
        try:
            os.mkdir(path)
        except FileNotFoundError:
            parent = os.path.dirname(path)
            os.makedirs(parent, exist_ok=True)
            if path == top:
                mark_top(parent)
            os.makedirs(path, exist_ok=True)
        except FileExistsError:
            if not os.path.isdir(path):
                raise


def mark_top(path: str) -> bool:
    """Set FS_TOPDIR_FL on the directory path; False where the filesystem has no such flag."""
    import fcntl
    import struct

    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        flags = struct.unpack("l", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 8))[0]
        if not flags & FS_TOPDIR_FL:
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("l", flags | FS_TOPDIR_FL))
        return True
    except OSError:
        return False   # tmpfs, overlay, ...: nothing to spread
    finally:
        os.close(fd)
