"""VolumeService through the Python API, as the engine calls it (prepare, oci_mounts, release)."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from krat.db import open_database
from krat.engine.config import Paths
from krat.engine.mountspec import parse_mount, parse_volume
from krat.engine.volumes import VolumeService
from krat.errors import Conflict, InvalidArgument

A, B = "a" * 64, "b" * 64


@pytest.fixture
def vols(state_dirs):
    root, runroot = state_dirs
    paths = Paths(str(root), str(runroot))
    return VolumeService(open_database(paths.db), paths)


@pytest.fixture
def rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc" / "app").mkdir(parents=True)
    (root / "etc" / "app" / "config.ini").write_text("from the image\n")
    (root / "escape").symlink_to("/etc")
    return root


def test_named_volume_is_filled_from_the_image_once_and_shared(vols, rootfs):
    vols.prepare(A, [parse_volume("conf:/etc/app")])
    (mount,) = vols.oci_mounts(A, rootfs)
    data = Path(mount["source"])
    assert (data / "config.ini").read_text() == "from the image\n"
    assert mount["destination"] == "/etc/app" and "rbind" in mount["options"]
    (data / "config.ini").write_text("changed\n")
    vols.prepare(B, [parse_volume("conf:/etc/app:ro")])
    (mount_b,) = vols.oci_mounts(B, rootfs)
    assert mount_b["source"] == str(data) and "ro" in mount_b["options"]
    assert (data / "config.ini").read_text() == "changed\n"  # not empty: no second copy
    with pytest.raises(Conflict, match="in use"):
        vols.remove("conf")
    vols.release(A, remove_anonymous=True)
    vols.release(B, remove_anonymous=True)
    assert (data / "config.ini").read_text() == "changed\n"  # survives the containers
    vols.remove("conf")
    assert not data.exists()


def test_nocopy_and_symlink_escape_are_not_filled(vols, rootfs):
    vols.prepare(A, [parse_mount("type=volume,source=empty,target=/etc/app,volume-nocopy"),
                     parse_volume("esc:/escape")])
    for mount in vols.oci_mounts(A, rootfs):
        assert os.listdir(mount["source"]) == []


def test_anonymous_volumes_from_image_and_rm_v(vols, rootfs):
    vols.prepare(A, [parse_volume("keep:/keep")], image_volumes=["/etc/app"])
    names = {v.name for v in vols.list()}
    anonymous = [n for n in names if n != "keep"]
    assert len(anonymous) == 1 and len(anonymous[0]) == 64
    vols.oci_mounts(A, rootfs)
    assert vols.release(A, remove_anonymous=True) == anonymous
    assert [v.name for v in vols.list()] == ["keep"]


def test_volumes_from_shares_mounts(vols, tmp_path):
    (tmp_path / "host").mkdir()
    vols.prepare(A, [parse_volume("shared:/shared"), parse_volume(f"{tmp_path}/host:/host")])
    vols.prepare(B, [], volumes_from=[f"{A}:ro"])
    mounts = {m["destination"]: m for m in vols.oci_mounts(B)}
    assert set(mounts) == {"/shared", "/host"} and all("ro" in m["options"] for m in mounts.values())
    assert {m["Type"] for m in vols.inspect_mounts(B)} == {"volume", "bind"}


def test_bad_mounts_create_nothing(vols, tmp_path):
    with pytest.raises(InvalidArgument, match="bind source path does not exist"):
        vols.prepare(A, [parse_volume("new:/new"), parse_volume(f"{tmp_path}/missing:/x")])
    with pytest.raises(InvalidArgument, match="duplicate mount point"):
        vols.prepare(A, [parse_volume("one:/x"), parse_volume("two:/x")])
    assert vols.list() == []
    assert not os.path.exists(os.path.join(vols.paths.volumes, "new"))


def test_tmpfs_mount_options(vols):
    vols.prepare(A, [parse_mount("type=tmpfs,target=/scratch,tmpfs-size=1m")])
    assert vols.oci_mounts(A) == [{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                                   "options": ["nosuid", "nodev", "noexec", "size=1048576", "mode=1777"]}]


@pytest.mark.root
def test_chown_to_container_user(vols, tmp_path):
    host = tmp_path / "owned"
    host.mkdir()
    (host / "f").write_text("x")
    vols.prepare(A, [parse_volume(f"{host}:/data:U")])
    vols.oci_mounts(A, None, uid=1234, gid=2345)
    assert (os.stat(host).st_uid, os.stat(host / "f").st_gid) == (1234, 2345)


@pytest.mark.root
def test_driver_options_mount_a_tmpfs(vols):
    vols.create("small", options={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    vols.prepare(A, [parse_volume("small:/data")])
    (mount,) = vols.oci_mounts(A)
    assert f" {mount['source']} tmpfs " in Path("/proc/mounts").read_text()
    vols.release(A)
    vols.remove("small")
    assert mount["source"] not in Path("/proc/mounts").read_text()
