"""Removing a directory tree of krat's own (a container's dirs, its runtime state), without shutil.

`import shutil` loads bz2, lzma and zlib (~1.5 ms) on `krat run --rm`, whose cleanup only
ever removes trees. remove_tree does what shutil.rmtree(path, ignore_errors=True) does,
the same careful way: it walks by directory fds and opens each subdirectory with
O_NOFOLLOW, so a symlink a container left (or swaps in meanwhile) is removed as a link,
never followed out of the tree. Errors are ignored; whatever could not go stays.
"""

from __future__ import annotations

import os

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str | os.PathLike) -> None:
    """Remove the directory `path` and everything below it; a missing path, or one that is
    not a directory (a symlink included), is left as it is, as shutil.rmtree leaves it."""
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError:
        return
    try:
        _empty(fd)
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except OSError:
        pass


def _empty(dir_fd: int) -> None:
    try:
        with os.scandir(dir_fd) as it:
            entries = [(e.name, _is_dir(e)) for e in it]
    except OSError:
        return
    for name, is_dir in entries:
        if is_dir:
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                fd = -1  # gone, or swapped for a symlink meanwhile: unlink below takes the link
            if fd >= 0:
                try:
                    _empty(fd)
                finally:
                    os.close(fd)
                try:
                    os.rmdir(name, dir_fd=dir_fd)
                    continue
                except OSError:
                    pass
        try:
            os.unlink(name, dir_fd=dir_fd)
        except OSError:
            pass


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False
