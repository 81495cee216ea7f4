"""`diff` leaves out what the engine made in the container's layer, as Docker does."""

from __future__ import annotations

from krat.engine.containerfs import changes, without_engine_files


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
