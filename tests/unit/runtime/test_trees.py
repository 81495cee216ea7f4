"""remove_tree: shutil.rmtree(ignore_errors=True) for krat's own trees, never following a link out."""

from __future__ import annotations

import os

from krat.runtime.trees import remove_tree


def test_removes_a_nested_tree(tmp_path):
    top = tmp_path / "c"
    (top / "a" / "b" / "c").mkdir(parents=True)
    (top / "a" / "b" / "c" / "f").write_text("x")
    (top / "g").write_text("y")
    os.mkfifo(top / "a" / "fifo")
    (top / "ro").mkdir()
    (top / "ro" / "f").write_text("z")
    os.chmod(top / "ro", 0o500)  # root removes it anyway; without root it stays, silently
    remove_tree(top)
    assert not top.exists() or os.geteuid() != 0
    assert not (top / "a").exists()


def test_links_inside_are_removed_not_followed(tmp_path):
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    (outside / "keep" / "file").write_text("precious")
    top = tmp_path / "c"
    (top / "d").mkdir(parents=True)
    (top / "d" / "to_dir").symlink_to(outside)
    (top / "to_file").symlink_to(outside / "keep" / "file")
    (top / "dangling").symlink_to(tmp_path / "nowhere")
    remove_tree(top)
    assert not top.exists()
    assert (outside / "keep" / "file").read_text() == "precious"


def test_a_missing_path_a_file_or_a_link_at_the_top_are_left_alone(tmp_path):
    remove_tree(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    remove_tree(tmp_path / "file")
    assert (tmp_path / "file").exists()
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    remove_tree(tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real" / "f").exists()
    remove_tree(str(tmp_path / "real"))
    assert not (tmp_path / "real").exists()
