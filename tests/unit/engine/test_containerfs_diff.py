"""containerfs's pure parts: `diff` leaves out what the engine made in the container's layer,
as Docker does; `cp` places what it copies by Docker's rules."""

from __future__ import annotations

import pytest

from krat.engine.containerfs import changes, placement, without_engine_files
from krat.errors import InvalidArgument


def test_a_directory_copied_up_only_for_a_mount_point_is_left_out():
    found = [("C", "/etc"), ("A", "/etc/hosts"), ("A", "/etc/hostname"), ("A", "/etc/resolv.conf"),
             ("C", "/tmp"), ("A", "/tmp/x")]
    assert without_engine_files(found) == [("C", "/tmp"), ("A", "/tmp/x")]


def test_a_directory_made_only_for_a_mount_point_is_left_out():
    assert without_engine_files([("A", "/sbin"), ("A", "/sbin/krat-init")]) == []


def test_a_directory_with_a_change_of_the_containers_own_stays():
    found = [("C", "/etc"), ("A", "/etc/added"), ("A", "/etc/hosts"), ("D", "/etc/group")]
    assert without_engine_files(found) == [("C", "/etc"), ("A", "/etc/added"), ("D", "/etc/group")]


def test_changes_reads_an_upper_directory(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hosts").write_text("")
    (tmp_path / "etc" / "added").write_text("x")
    lower = {"/etc", "/etc/hosts"}
    assert without_engine_files(changes(str(tmp_path), lower.__contains__)) == [("C", "/etc"), ("A", "/etc/added")]


@pytest.mark.parametrize("src,src_dir,dest,exists,is_dir,expected", [
    ("/etc", True, "/x", True, True, "into"),
    ("/etc/.", True, "/x", True, True, "contents"),
    ("/etc", True, "/new", False, False, "as"),
    ("/etc/.", True, "/new", False, False, "as"),
    ("/f", False, "/x", True, True, "into"),
    ("/f", False, "/x/f2", True, False, "as"),
    ("/f", False, "/new", False, False, "as"),
])
def test_cp_placement(src, src_dir, dest, exists, is_dir, expected):
    assert placement(src, src_dir, dest, exists, is_dir) == expected


def test_cp_placement_errors():
    with pytest.raises(InvalidArgument, match="no such directory"):
        placement("/f", False, "/nodir/", False, False)
    with pytest.raises(InvalidArgument, match="cannot copy a directory to a file"):
        placement("/etc", True, "/file", True, False)
