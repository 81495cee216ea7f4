"""Pure decisions of the runtime: mount plans, secure paths, exec checks, the status machine."""

from __future__ import annotations

import os

import pytest

from krat.errors import CommandCannotRun, CommandNotFound, Conflict, InvalidArgument
from krat.oci.process import Mount
from krat.oci.runtime import ContainerStatus as S
from krat.runtime import command, mounts
from krat.runtime import syscalls as sc
from krat.runtime.container import parse_signal
from krat.runtime.records import check_operation, check_transition, validate_id


def test_plan_bind_with_flags_needs_a_remount():
    p = mounts.plan_mount(Mount("/data", "bind", "/host", ("rbind", "ro", "nosuid", "rprivate")))
    assert p.bind and p.fstype == ""
    assert p.flags == sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY | sc.MS_NOSUID
    assert p.remount_flags == sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID
    assert p.propagation == (sc.MS_PRIVATE | sc.MS_REC,)


def test_plan_tmpfs_keeps_data_options():
    p = mounts.plan_mount(Mount("/tmp", "tmpfs", "tmpfs", ("nosuid", "size=65536k", "mode=1777", "tmpcopyup")))
    assert (p.fstype, p.flags, p.data, p.remount_flags) == ("tmpfs", sc.MS_NOSUID, "size=65536k,mode=1777", None)


def test_secure_join_never_leaves_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../etc", root / "rel")
    os.symlink("loop", root / "loop")
    assert mounts.secure_join(str(root), "/abs/passwd") == f"{root}/etc/passwd"
    assert mounts.secure_join(str(root), "/rel/passwd") == f"{root}/etc/passwd"
    assert mounts.secure_join(str(root), "/../../x") == f"{root}/x"
    with pytest.raises(OSError):
        mounts.secure_join(str(root), "/loop")


def test_check_header_explains_scripts_and_binaries(tmp_path):
    with pytest.raises(CommandNotFound, match="CRLF"):
        command.check_header(b"#!/bin/sh\r\necho\r\n", "run.sh")
    with pytest.raises(CommandNotFound, match="interpreter /no/such/python"):
        command.check_header(b"#!/no/such/python -u\nprint()\n", "run.py")
    command.check_header(b"#!/bin/sh\n", "ok.sh")
    machine = 183 if os.uname().machine != "aarch64" else 62
    elf = b"\x7fELF\x02\x01\x01" + b"\0" * 11 + machine.to_bytes(2, "little")
    with pytest.raises(CommandCannotRun, match="exec format error: the binary is for"):
        command.check_header(elf, "prog")


def test_resolve_uses_the_path_of_the_process_env(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    prog = bindir / "prog"
    prog.write_text("#!/bin/sh\n")
    prog.chmod(0o755)
    (bindir / "data").write_text("x")
    assert command.resolve("prog", (f"PATH=/nope:{bindir}",)) == str(prog)
    with pytest.raises(CommandNotFound, match="executable file not found in \\$PATH: data"):
        command.resolve("data", (f"PATH={bindir}",))
    with pytest.raises(CommandCannotRun, match="is a directory"):
        command.resolve(str(bindir), ())
    with pytest.raises(CommandNotFound):
        command.resolve(str(bindir / "missing"), ())


def test_status_machine_names_both_states():
    check_transition("c1", S.CREATED, S.RUNNING)
    check_transition("c1", S.RUNNING, S.PAUSED)
    with pytest.raises(Conflict, match="container c1 is stopped: it cannot become running"):
        check_transition("c1", S.STOPPED, S.RUNNING)
    with pytest.raises(Conflict, match="cannot delete container c1: it is running \\(needs created or stopped\\)"):
        check_operation("c1", "delete", S.RUNNING)


def test_ids_and_signals():
    validate_id("abc-1.2_x")
    for bad in ("", "../x", "a/b", "."):
        with pytest.raises(InvalidArgument):
            validate_id(bad)
    assert parse_signal("KILL") == parse_signal("SIGKILL") == parse_signal("9") == 9
    assert parse_signal("sigterm") == 15
    with pytest.raises(InvalidArgument):
        parse_signal("SIGNOPE")


def test_read_file_reads_whole_files_and_names_the_path_in_errors(tmp_path):
    from krat.runtime.records import read_file

    (tmp_path / "f").write_bytes(b"x" * 70000)
    assert read_file(str(tmp_path / "f")) == b"x" * 70000
    with pytest.raises(IsADirectoryError) as err:
        read_file(str(tmp_path))
    assert str(tmp_path) in str(err.value)
    with pytest.raises(FileNotFoundError):
        read_file(str(tmp_path / "missing"))
