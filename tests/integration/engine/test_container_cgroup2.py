"""krat's runtime on the cgroup v2 path, on this host's real kernel.

On a hybrid host (v1 controllers, an empty cgroup2 at /sys/fs/cgroup/unified) the v2 code
would otherwise only be unit-tested: $KRAT_CGROUP2_ROOT points krat's runtime at a cgroup2
directory. Each test makes its own subtree below the host's cgroup2 mount and removes it,
so neither systemd's cgroups nor another test's are touched.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest

from engine_helpers import assert_nothing_left, wait_for
from support import skip_or_fail

pytestmark = pytest.mark.root


def cgroup2_mount() -> Path | None:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split()[:1] == ["cgroup2"]:
            return Path(left.split()[4])
    return None


def remove_tree(top: Path) -> None:
    """rmdir a cgroup subtree bottom-up, killing whatever a failed test left in it."""
    if not top.exists():
        return
    for d in sorted((Path(p) for p, _, _ in os.walk(top)), key=lambda p: len(p.parts), reverse=True):
        if (d / "cgroup.kill").exists() and (d / "cgroup.procs").read_text().strip():
            (d / "cgroup.kill").write_text("1")
        for _ in range(200):
            try:
                d.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)


@pytest.fixture
def v2(kr):
    """The krat CLI with krat's own runtime on a private cgroup2 subtree; yields (cli, subtree)."""
    mount = cgroup2_mount()
    if mount is None:
        skip_or_fail("no cgroup2 hierarchy is mounted")
    top = mount / f"krat-test-{uuid.uuid4().hex[:12]}"
    top.mkdir()
    kr.env.pop("KRAT_RUNTIME", None)
    kr.env["KRAT_CGROUP2_ROOT"] = str(top)
    try:
        yield kr, top
    finally:
        ids = kr("ps", "-aq", "--no-trunc").stdout.split()
        if ids:
            kr("rm", "-f", *ids, timeout=120)
        remove_tree(top)
    assert not top.exists()


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def container_dirs(top: Path) -> list[str]:
    base = top / "krat"
    return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.exists() else []


def test_container_runs_in_its_own_v2_cgroup(v2):
    kr, top = v2
    cid = kr.ok("run", "-d", "--name", "v2box", "busybox", "sleep", "300").stdout.strip()
    pid = int(kr.ok("inspect", "-f", "{{.State.Pid}}", "v2box").stdout)
    rel = f"/{top.name}/krat/{cid}"
    assert f"0::{rel}\n" in Path(f"/proc/{pid}/cgroup").read_text()
    assert str(pid) in (top / "krat" / cid / "cgroup.procs").read_text().split()
    # A private cgroup namespace rooted at that cgroup, with cgroup2 mounted at /sys/fs/cgroup.
    inside = kr.ok("exec", "v2box", "cat", "/proc/self/cgroup").stdout
    assert "0::/\n" in inside
    assert "cgroup.freeze" in kr.ok("exec", "v2box", "ls", "/sys/fs/cgroup").stdout.split()
    assert kr.ok("top", "v2box").stdout.count("sleep 300") == 1
    assert json.loads(kr.ok("info", "--format", "json").stdout)["cgroup_version"] == "2"
    kr.ok("rm", "-f", "v2box")
    assert container_dirs(top) == []
    assert_nothing_left(kr, [cid])


def test_pause_freezes_through_cgroup_freeze(v2):
    kr, top = v2
    cid = kr.ok("run", "-d", "--name", "spin", "busybox", "sh", "-c", "while :; do :; done").stdout.strip()
    pid = int(kr.ok("inspect", "-f", "{{.State.Pid}}", "spin").stdout)
    d = top / "krat" / cid
    kr.ok("pause", "spin")
    assert (d / "cgroup.freeze").read_text() == "1\n"
    assert "frozen 1" in (d / "cgroup.events").read_text()
    assert kr.ok("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "spin").stdout == "paused true\n"
    assert "(Paused)" in kr.ok("ps").stdout
    before = cpu_ticks(pid)
    time.sleep(0.3)
    assert cpu_ticks(pid) == before, "a frozen process kept running"
    kr.ok("unpause", "spin")
    assert "frozen 0" in (d / "cgroup.events").read_text()
    assert kr.ok("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "spin").stdout == "running false\n"
    before = cpu_ticks(pid)
    wait_for(lambda: cpu_ticks(pid) > before, what="the thawed process to run")
    kr.ok("rm", "-f", "spin")
    assert not d.exists()
    assert_nothing_left(kr, [cid])


def test_kill_and_rm_force_empty_and_remove_the_cgroup(v2):
    kr, top = v2
    killed = kr.ok("run", "-d", "--name", "k1", "busybox", "sleep", "300").stdout.strip()
    paused = kr.ok("run", "-d", "--name", "k2", "busybox", "sh", "-c", "sleep 300 & sleep 300").stdout.strip()
    assert container_dirs(top) == sorted([killed, paused])
    kr.ok("kill", "k1")
    wait_for(lambda: kr.ok("inspect", "-f", "{{.State.Status}}", "k1").stdout == "exited\n", what="k1 to exit")
    assert kr.ok("inspect", "-f", "{{.State.ExitCode}}", "k1").stdout == "137\n"
    wait_for(lambda: not (top / "krat" / killed).exists(), what="k1's cgroup to go")
    kr.ok("pause", "k2")
    pids = (top / "krat" / paused / "cgroup.procs").read_text().split()
    assert len(pids) == 2
    kr.ok("rm", "-f", "k2")
    assert not (top / "krat" / paused).exists()
    assert not [p for p in pids if Path(f"/proc/{p}").exists()], "processes of a removed container remain"
    kr.ok("rm", "k1")
    assert container_dirs(top) == []
    assert_nothing_left(kr, [killed, paused])


def test_failed_runs_leave_no_cgroup(v2):
    kr, top = v2
    assert kr.fails("run", "--name", "nx", "busybox", "/no/such/program", code=127)
    assert kr.fails("run", "-d", "busybox", "/no/such/program", code=127)
    assert container_dirs(top) == []
    assert_nothing_left(kr)


@pytest.mark.parametrize("flag, controller", [(("--memory", "64m"), "memory"), (("--pids-limit", "20"), "pids"),
                                              (("--cpus", "0.5"), "cpu")])
def test_limit_without_its_v2_controller_is_one_clear_error(v2, flag, controller):
    """As Podman (crun/runc fail on the missing file) rather than Docker (which warns and drops the
    limit): a limit that cannot be enforced must not be silently ignored."""
    kr, top = v2
    # A child of a cgroup whose subtree_control is empty is offered no controller, on any host.
    bare = top / "bare"
    bare.mkdir()
    assert (bare / "cgroup.controllers").read_text().split() == []
    kr.env["KRAT_CGROUP2_ROOT"] = str(bare)
    err = kr.fails("run", "--rm", *flag, "busybox", "true")
    assert len(err.splitlines()) == 1
    assert f"the {controller} controller is not enabled in cgroup2 {bare}" in err
    assert kr.fails("run", "-d", "--name", "lim", *flag, "busybox", "sleep", "300")
    assert container_dirs(bare) == []
    assert_nothing_left(kr)
    # Without the limit the same hierarchy runs containers.
    assert kr.ok("run", "--rm", "busybox", "echo", "ok").stdout == "ok\n"


def test_bad_cgroup2_root_is_one_clear_error(v2, tmp_path):
    kr, _ = v2
    kr.env["KRAT_CGROUP2_ROOT"] = str(tmp_path)
    err = kr.fails("run", "--rm", "busybox", "true")
    assert err == f"Error: KRAT_CGROUP2_ROOT={tmp_path}: not a cgroup2 directory (it has no cgroup.controllers)"
    assert_nothing_left(kr)
