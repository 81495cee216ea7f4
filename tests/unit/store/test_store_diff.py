"""An overlay upper directory as a layer tar, less what the engine made in it (commit)."""

from __future__ import annotations

import io
import os
import tarfile

from krat.store.diff import diff

ENGINE = ["etc/hosts", "etc/hostname", "sbin/krat-init"]


def names(upper, leave_out=()) -> list[str]:
    out = io.BytesIO()
    diff(upper, out, leave_out)
    return sorted(tarfile.open(fileobj=io.BytesIO(out.getvalue())).getnames())


def test_a_directory_there_only_for_what_is_left_out_goes_too(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hosts").write_text("")
    (tmp_path / "etc" / "hostname").write_text("")
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "x").write_text("x")
    assert names(tmp_path) == ["etc", "etc/hostname", "etc/hosts", "tmp", "tmp/x"]
    assert names(tmp_path, ENGINE) == ["tmp", "tmp/x"]


def test_a_directory_with_more_in_it_stays(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hosts").write_text("")
    (tmp_path / "etc" / "added").write_text("new")
    (tmp_path / "sbin").mkdir()   # empty: the container's own (made, or emptied)
    assert names(tmp_path, ENGINE) == ["etc", "etc/added", "sbin"]


def test_a_symlink_where_a_directory_was_is_the_containers_own(tmp_path):
    os.symlink("/", tmp_path / "etc")
    assert names(tmp_path, ENGINE) == ["etc"]


def test_cp_unpacks_wh_names_as_plain_files(tmp_path):
    """A layer's `.wh.` names are whiteouts; files copied in with `cp` keep theirs."""
    import tarfile as tf

    from krat.store.apply import apply_tar

    data = io.BytesIO()
    with tf.open(fileobj=data, mode="w") as tar:
        info = tf.TarInfo(".wh.notes")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    data.seek(0)
    apply_tar(data, tmp_path, privileged=False, layer=False)
    assert (tmp_path / ".wh.notes").read_bytes() == b"hi"
