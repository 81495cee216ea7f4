"""`krat run`'s monitor, started at the CLI's start: a detached process of its own that keeps
nothing of the CLI (fds, session) and outlives it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine_helpers import assert_nothing_left, monitor_pids

pytestmark = pytest.mark.root


def _fd_targets(pid: int) -> list[str]:
    fds = Path(f"/proc/{pid}/fd")
    out = []
    for fd in fds.iterdir():
        try:
            out.append(os.readlink(fd))
        except OSError:
            continue
    return out


def test_detached_run_leaves_a_monitor_without_the_clis_fds(kr):
    r, w = os.pipe()    # an fd the CLI inherits, as from a shell or a test harness
    try:
        proc = subprocess.run(kr.argv("run", "-d", "busybox", "sleep", "60"), env=kr.env, pass_fds=(w,),
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        cid = proc.stdout.strip()
        [monitor] = monitor_pids(kr.runroot)
        cmdline = Path(f"/proc/{monitor}/cmdline").read_bytes().split(b"\0")
        assert b"--early" in cmdline and cid.encode() in cmdline
        pipe = f"pipe:[{os.fstat(w).st_ino}]"
        targets = _fd_targets(monitor)
        assert pipe not in targets, targets
        assert targets.count("/dev/null") >= 2      # stdin and stdout; stderr is its monitor.log
        assert os.getsid(monitor) != os.getsid(0)   # a session of its own
        assert kr.ok("inspect", "-f", "{{.State.Running}}", cid).stdout.strip() == "true"
        os.close(w)
        w = -1
        assert os.read(r, 1) == b""                 # nothing holds the pipe's write end any more
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    kr.ok("rm", "-f", cid)
    assert_nothing_left(kr, [cid])


def _cpu_list(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.strip().split(","):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def _container_cpus(kr, cpus: set[int] | None = None) -> set[int]:
    def narrow() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    proc = subprocess.run(kr.argv("run", "--rm", "--network", "none", "busybox", "grep", "Cpus_allowed_list",
                                  "/proc/self/status"),
                          env=kr.env, preexec_fn=narrow, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return _cpu_list(proc.stdout.split(":", 1)[1])


def test_the_container_runs_on_the_cpus_krat_was_given(kr):
    # The runtime keeps the early init off its own CPU while it hands it the request; the
    # container's processes must still get the CPU mask krat itself was started with.
    mine = os.sched_getaffinity(0)
    for _ in range(3):
        assert _container_cpus(kr) == mine
    if len(mine) > 1:
        one = {min(mine)}
        assert _container_cpus(kr, one) == one
    assert_nothing_left(kr)


def _cpus_of(pid: int) -> set[int]:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return _cpu_list(line.split(":", 1)[1])
    raise AssertionError(f"no Cpus_allowed_list for {pid}")


def test_the_monitor_keeps_the_cpus_krat_was_given(kr):
    # run keeps the monitor it forks off the CLI's CPU until the monitor's runtime
    # child is ready; the monitor, and what it starts later (a restart), get the whole mask back.
    mine = os.sched_getaffinity(0)
    masks = [mine] + ([{min(mine)}] if len(mine) > 1 else [])
    for cpus in masks:
        proc = subprocess.run(kr.argv("run", "-d", "--restart", "always", "busybox", "sleep", "60"), env=kr.env,
                              preexec_fn=lambda: os.sched_setaffinity(0, cpus), capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        cid = proc.stdout.strip()
        [monitor] = monitor_pids(kr.runroot)
        assert _cpus_of(monitor) == cpus
        pid = int(kr.ok("inspect", "-f", "{{.State.Pid}}", cid).stdout)
        assert _cpus_of(pid) == cpus
        os.kill(pid, 9)                        # restarted by the monitor: its mask again
        for _ in range(100):
            again = int(kr.ok("inspect", "-f", "{{.State.Pid}}", cid).stdout)
            if again not in (0, pid):
                break
            time.sleep(0.05)
        assert again not in (0, pid)
        assert _cpus_of(again) == cpus
        kr.ok("rm", "-f", cid)
    assert_nothing_left(kr)


def test_run_through_the_python_api_starts_its_own_monitor(kr):
    # krat.cli.main.main(["run", ...]) called from Python: run forks its monitor itself.
    code = ("import sys\nfrom krat.cli.main import main\n"
            "sys.exit(main(['--root', sys.argv[1], '--runroot', sys.argv[2], 'run', '--rm', 'busybox', 'echo', 'hi']))")
    proc = subprocess.run([sys.executable, "-c", code, str(kr.root), str(kr.runroot)],
                          env=kr.env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hi\n"
    assert_nothing_left(kr)
