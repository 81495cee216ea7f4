"""Layer tars applied to a directory: overlay whiteouts, and hostile entries kept inside."""

import io
import os
import stat

import pytest
from layer_tars import entry, make_tar

from krat.errors import InvalidArgument
from krat.store.apply import apply_tar, opaque_xattr

ROOT = os.geteuid() == 0


def apply(tmp_path, entries, privileged=ROOT):
    dest = tmp_path / "layer"
    dest.mkdir(exist_ok=True)
    apply_tar(io.BytesIO(make_tar(entries)), dest, privileged=privileged)
    return dest


def test_files_dirs_links_and_metadata(tmp_path):
    dest = apply(tmp_path, [
        entry("etc", "dir", mode=0o750),
        entry("etc/hostname", data=b"box\n", mode=0o600, uid=33, gid=33),
        entry("./bin/sh", data=b"#!", mode=0o4755),
        entry("bin/ash", "hardlink", link="bin/sh"),
        entry("bin/busybox", "symlink", link="/bin/sh"),
        entry("run/fifo", "fifo"),
    ])
    assert (dest / "etc/hostname").read_bytes() == b"box\n"
    assert stat.S_IMODE((dest / "etc").stat().st_mode) == 0o750
    assert stat.S_IMODE((dest / "bin/sh").stat().st_mode) == 0o4755
    assert os.path.samefile(dest / "bin/sh", dest / "bin/ash")
    assert os.readlink(dest / "bin/busybox") == "/bin/sh"
    assert stat.S_ISFIFO((dest / "run/fifo").lstat().st_mode)
    assert (dest / "etc").stat().st_mtime == 1_000_000_000
    if ROOT:
        assert (dest / "etc/hostname").stat().st_uid == 33


def test_whiteouts_become_what_overlay_expects(tmp_path):
    dest = apply(tmp_path, [
        entry("etc", "dir"),
        entry("etc/.wh.passwd"),
        entry("var", "dir"),
        entry("var/.wh..wh..opq"),
        entry("var/new", data=b"x"),
    ])
    if ROOT:
        st = (dest / "etc/passwd").lstat()
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    else:
        assert os.getxattr(dest / "etc/passwd", "user.overlay.whiteout") == b"y"
    assert os.getxattr(dest / "var", opaque_xattr(ROOT)) == b"y"
    assert (dest / "var/new").read_bytes() == b"x"
    assert not list(dest.rglob(".wh.*"))


def test_later_entries_replace_earlier_ones(tmp_path):
    dest = apply(tmp_path, [
        entry("a", "symlink", link="/etc/passwd"),
        entry("a", data=b"mine"),
        entry("d", "dir"), entry("d/x", data=b"1"),
        entry("d", data=b"now a file"),
    ])
    assert not os.path.islink(dest / "a") and (dest / "a").read_bytes() == b"mine"
    assert (dest / "d").read_bytes() == b"now a file"


@pytest.mark.parametrize("entries, message", [
    ([entry("../escape", data=b"x")], "'..'"),
    ([entry("a/../../escape", data=b"x")], "'..'"),
    ([entry("evil", "symlink", link="/tmp"), entry("evil/file", data=b"x")], "symlink"),
    ([entry("evil", "symlink", link=".."), entry("evil/file", data=b"x")], "symlink"),
    ([entry("link", "hardlink", link="../../etc/passwd")], "'..'"),
    ([entry("link", "hardlink", link="/etc/passwd")], "not in the layer"),
    ([entry("dir", "dir"), entry("dir/.wh..")], "unsafe"),
    ([entry(".wh...")], "unsafe"),
    ([entry("evil", "symlink", link="/"), entry("evil/.wh.etc")], "symlink"),
    ([entry("evil", "symlink", link="/etc"), entry("evil/.wh..wh..opq")], "symlink"),
])
def test_hostile_entries_are_rejected(tmp_path, entries, message):
    outside = tmp_path / "outside"
    outside.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InvalidArgument, match=message):
        apply(tmp_path, entries)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(set(before) | {"layer"})
    assert list(outside.iterdir()) == []


def test_absolute_names_stay_inside(tmp_path):
    dest = apply(tmp_path, [entry("/etc/motd", data=b"hi")])
    assert (dest / "etc/motd").read_bytes() == b"hi"


def test_symlink_then_file_does_not_write_through(tmp_path):
    target = tmp_path / "victim"
    target.write_text("safe")
    dest = apply(tmp_path, [entry("x", "symlink", link=str(target)), entry("x", data=b"pwned")])
    assert target.read_text() == "safe"
    assert (dest / "x").read_bytes() == b"pwned"


def test_devices_only_when_privileged(tmp_path):
    entries = [entry("dev", "dir"), entry("dev/null", "char", mode=0o666, major=1, minor=3)]
    dest = apply(tmp_path, entries, privileged=False)
    assert not (dest / "dev/null").exists()
    if ROOT:
        dest2 = tmp_path / "priv"
        dest2.mkdir()
        apply_tar(io.BytesIO(make_tar(entries)), dest2, privileged=True)
        assert stat.S_ISCHR((dest2 / "dev/null").lstat().st_mode)


def test_overlay_xattrs_in_the_tar_are_ignored(tmp_path):
    pax = {"SCHILY.xattr.trusted.overlay.redirect": "/etc", "SCHILY.xattr.user.note": "kept"}
    dest = apply(tmp_path, [entry("f", data=b"x", pax=pax)])
    names = os.listxattr(dest / "f")
    assert "trusted.overlay.redirect" not in names
    assert os.getxattr(dest / "f", "user.note") == b"kept"


def test_truncated_tar_rejected(tmp_path):
    data = make_tar([entry("big", data=b"x" * 10000)])[:3000]
    dest = tmp_path / "layer"
    dest.mkdir()
    with pytest.raises(InvalidArgument, match="truncated|corrupt"):
        apply_tar(io.BytesIO(data), dest)
