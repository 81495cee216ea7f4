"""Overlay root filesystems over shared layer dirs, and upper dir -> layer tar (diff)."""

import io
import os
import stat
import tarfile

import pytest
from layer_tars import entry, make_tar

from krat.engine.config import Paths
from krat.engine.images import ImageService
from krat.store import snapshots
from krat.store.layers import diff

pytestmark = pytest.mark.root


@pytest.fixture
def service(krat):
    svc = ImageService(Paths(str(krat.root), str(krat.runroot)))
    yield svc
    svc.db.close()


@pytest.fixture
def mounted(tmp_path):
    targets = []
    yield targets
    for t in targets:
        snapshots.unmount(t)


def container_dirs(tmp_path, name="c1"):
    base = tmp_path / name
    dirs = [base / "upper", base / "work", base / "rootfs"]
    for d in dirs:
        d.mkdir(parents=True)
    return dirs


def test_overlay_of_two_layers_with_whiteouts(service, tmp_path, mounted):
    bottom = make_tar([entry("etc", "dir"), entry("etc/passwd", data=b"root"), entry("etc/motd", data=b"hi"),
                       entry("var", "dir"), entry("var/old", data=b"old")])
    top = make_tar([entry("etc", "dir"), entry("etc/.wh.motd"), entry("var", "dir"),
                    entry("var/.wh..wh..opq"), entry("var/new", data=b"new")])
    image = service.create_image({"config": {"Cmd": ["sh"]}}, [io.BytesIO(bottom), io.BytesIO(top)], ["two:1"])
    assert len(image.layer_dirs) == 2 and image.config == {"Cmd": ["sh"]}
    upper, work, rootfs = container_dirs(tmp_path)
    snapshots.mount_overlay(image.layer_dirs, rootfs, upper, work)
    mounted.append(rootfs)
    assert (rootfs / "etc/passwd").read_bytes() == b"root"
    assert not (rootfs / "etc/motd").exists()
    assert sorted(os.listdir(rootfs / "var")) == ["new"]
    # changes go to the upper dir; diff() turns them into a layer with whiteouts
    (rootfs / "etc/passwd").unlink()
    (rootfs / "etc/added").write_text("x")
    buf = io.BytesIO()
    diff(upper, buf)
    names = tarfile.open(fileobj=io.BytesIO(buf.getvalue())).getnames()
    assert "etc/.wh.passwd" in names and "etc/added" in names
    snapshots.unmount(rootfs)
    mounted.clear()
    assert not snapshots.is_mounted(rootfs)
    # the layer made by diff applies on top and hides passwd
    child = service.create_image({}, [io.BytesIO(buf.getvalue())], ["child:1"], base=image)
    assert child.diff_ids[:2] == image.diff_ids and len(child.layer_dirs) == 3
    assert child.config == {"Cmd": ["sh"]} and child.parent_id == image.id
    up2, work2, root2 = container_dirs(tmp_path, "c2")
    snapshots.mount_overlay(child.layer_dirs, root2, up2, work2)
    mounted.append(root2)
    assert not (root2 / "etc/passwd").exists() and (root2 / "etc/added").read_text() == "x"


def test_many_layers_fit_one_mount(service, tmp_path, mounted):
    layers = [io.BytesIO(make_tar([entry(f"f{i:03}", data=str(i).encode())])) for i in range(120)]
    image = service.create_image({}, layers, ["tall:1"])
    assert len(image.layer_dirs) == 120
    upper, work, rootfs = container_dirs(tmp_path)
    snapshots.mount_overlay(image.layer_dirs, rootfs, upper, work)
    mounted.append(rootfs)
    assert (rootfs / "f000").read_text() == "0" and (rootfs / "f119").read_text() == "119"
    assert os.getcwd() != str(service.paths.layers)


def test_read_only_single_layer(service, tmp_path, mounted):
    image = service.create_image({}, [io.BytesIO(make_tar([entry("a", data=b"1")]))], [])
    rootfs = tmp_path / "ro"
    rootfs.mkdir()
    snapshots.mount_overlay(image.layer_dirs, rootfs)
    mounted.append(rootfs)
    assert (rootfs / "a").read_text() == "1"
    with pytest.raises(OSError):
        (rootfs / "b").write_text("no")


def test_diff_roundtrip_keeps_metadata(tmp_path):
    upper = tmp_path / "upper"
    (upper / "d").mkdir(parents=True)
    (upper / "d/f").write_bytes(b"data")
    os.chmod(upper / "d/f", 0o4711)
    os.link(upper / "d/f", upper / "d/g")
    os.symlink("f", upper / "d/s")
    os.mknod(upper / "gone", stat.S_IFCHR, os.makedev(0, 0))
    os.setxattr(upper / "d", "trusted.overlay.opaque", b"y")
    buf = io.BytesIO()
    diff(upper, buf)
    tar = tarfile.open(fileobj=io.BytesIO(buf.getvalue()))
    members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"d", "d/.wh..wh..opq", "d/f", "d/g", "d/s", ".wh.gone"}
    assert members["d/f"].mode == 0o4711 and members["d/g"].islnk() and members["d/g"].linkname == "d/f"
    again = io.BytesIO()
    diff(upper, again)
    assert again.getvalue() == buf.getvalue(), "diff is deterministic"
