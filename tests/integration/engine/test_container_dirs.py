"""The folders that hold containers' directories are marked for spreading (FS_TOPDIR_FL) the
first time a store makes them, where the filesystem has that flag (ext4 here)."""

from __future__ import annotations

import fcntl
import os
import struct

import pytest

from engine_helpers import assert_nothing_left
from krat.engine.containerdirs import FS_IOC_GETFLAGS, FS_TOPDIR_FL

pytestmark = pytest.mark.root


def _flags(path) -> int | None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return struct.unpack("l", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 8))[0]
    except OSError:
        return None   # no inode flags on this filesystem (tmpfs): nothing to check
    finally:
        os.close(fd)


def test_a_new_stores_container_folders_spread_their_subdirectories(kr):
    for folder in (kr.root / "containers", kr.runroot / "containers"):
        assert not folder.exists()
    kr.ok("run", "--rm", "--network", "none", "busybox", "true")
    checked = 0
    for folder in (kr.root / "containers", kr.runroot / "containers"):
        flags = _flags(folder)
        if flags is not None:
            assert flags & FS_TOPDIR_FL, f"{folder}: flags {flags:#x}"
            checked += 1
    assert checked or _flags(kr.root) is None   # the test's own dirs are on a filesystem with flags
    assert_nothing_left(kr)
