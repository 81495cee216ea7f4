"""The monitor: concurrency of names, truthful state after kill -9, restart policies,
log rotation, and its footprint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine_helpers import assert_nothing_left, monitor_pids, wait_for

pytestmark = pytest.mark.root


def test_twenty_concurrent_runs_with_one_name_exactly_one_wins(kr):
    with ThreadPoolExecutor(20) as pool:
        procs = list(pool.map(lambda _: kr("run", "-d", "--name", "solo", "busybox", "sleep", "30"), range(20)))
    winners = [p for p in procs if p.returncode == 0]
    assert len(winners) == 1
    for p in procs:
        if p.returncode:
            assert p.returncode == 125 and "already in use" in p.stderr and "Traceback" not in p.stderr
    assert kr.ok("ps", "-q").stdout.count("\n") == 1


@pytest.mark.slow
def test_fifty_concurrent_detached_runs_succeed(kr):
    with ThreadPoolExecutor(50) as pool:
        procs = list(pool.map(lambda i: kr("run", "-d", "--name", f"c{i:02d}", "busybox", "sleep", "60"), range(50)))
    assert [p.stderr for p in procs if p.returncode] == []
    assert len(kr.ok("ps", "-q").stdout.split()) == 50
    ids = kr.ok("ps", "-aq", "--no-trunc").stdout.split()
    kr.ok("rm", "-f", *ids, timeout=300)
    assert_nothing_left(kr, ids)


def test_ps_is_truthful_after_kill_9(kr):
    cid = kr.ok("run", "-d", "--name", "victim", "busybox", "sleep", "100").stdout.strip()
    pid = int(kr.ok("inspect", "-f", "{{.State.Pid}}", "victim").stdout)
    os.kill(pid, signal.SIGKILL)                         # the container dies: its monitor records 137
    assert kr.ok("wait", "victim").stdout.strip() == "137"
    assert kr.ok("ps", "-a", "--format", "{{.Status}}").stdout.startswith("Exited (137)")

    kr.ok("start", "victim")
    [monitor] = monitor_pids(kr.runroot)
    pid = int(kr.ok("inspect", "-f", "{{.State.Pid}}", "victim").stdout)
    os.kill(monitor, signal.SIGKILL)                     # the monitor dies: the container runs on
    wait_for(lambda: not os.path.exists(f"/proc/{monitor}/stat") or
             open(f"/proc/{monitor}/stat").read().split()[2] == "Z", what="monitor gone")
    assert kr.ok("ps", "--format", "{{.State}}").stdout.strip() == "running"
    os.kill(pid, signal.SIGKILL)                         # and then the container too
    wait_for(lambda: kr.ok("ps", "-a", "--format", "{{.State}}").stdout.strip() == "exited",
             what="the state to be corrected")
    doc = json.loads(kr.ok("inspect", "victim").stdout)[0]["State"]
    assert doc["Running"] is False and "monitor" in doc["Error"]
    kr.ok("rm", "victim")
    assert_nothing_left(kr, [cid])


def _cgroup_of(pid: int) -> str:
    """The cgroup of pid: its pids controller's on a v1 host, its only one on v2."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    for _, controllers, path in lines:
        if "pids" in controllers.split(","):
            return path
    return next(path for hierarchy, _, path in lines if hierarchy == "0")


@pytest.mark.parametrize("mode", ["foreground", "detached"])
def test_the_monitor_stays_outside_its_containers_cgroup(kr, mode):
    """Whether the monitor creates the container itself (a foreground `run`: with the init
    it forked while the CLI prepared the container, which moved itself into the
    container's cgroup) or leaves that to a child (-d): the container's limits (pids,
    memory, the freezer) never apply to its monitor, and the container's init is its child."""
    args = ["--name", "fenced", "--network", "none", "--pids-limit", "32", "busybox", "sleep", "60"]
    if mode == "detached":
        cid = kr.ok("run", "-d", *args).stdout.strip()
        fg = None
    else:
        fg = subprocess.Popen(kr.argv("run", "--rm", *args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: kr.ok("ps", "-q").stdout.strip(), what="the foreground container to run")
        cid = kr.ok("ps", "-q", "--no-trunc").stdout.strip()
    [monitor] = monitor_pids(kr.runroot)
    pid = int(kr.ok("inspect", "-f", "{{.State.Pid}}", "fenced").stdout)
    assert cid in _cgroup_of(pid)
    assert cid not in _cgroup_of(monitor)
    with open(f"/proc/{pid}/stat") as f:
        assert int(f.read().rpartition(")")[2].split()[1]) == monitor   # its parent
    kr.ok("pause", "fenced")                     # frozen: the container, not the monitor that answers
    assert kr.ok("inspect", "-f", "{{.State.Status}}", "fenced").stdout.strip() == "paused"
    kr.ok("rm", "-f", "fenced", timeout=30)
    if fg is not None:
        assert fg.wait(timeout=30) == 137 and "Traceback" not in fg.stderr.read().decode()
    assert_nothing_left(kr, [cid])


def test_restart_on_failure_counts_and_stops(kr):
    kr.ok("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3")
    wait_for(lambda: kr.ok("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "flaky").stdout.strip()
             == "exited 2", timeout=20, what="two restarts, then rest")
    assert kr.ok("logs", "flaky").stdout == "run\nrun\nrun\n"
    assert kr.ok("inspect", "-f", "{{.State.ExitCode}}", "flaky").stdout.strip() == "3"


def test_restart_always_until_stopped(kr):
    kr.ok("run", "-d", "--name", "phoenix", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2; exit 1")
    wait_for(lambda: int(kr.ok("inspect", "-f", "{{.RestartCount}}", "phoenix").stdout) >= 2, timeout=20,
             what="restarts")
    kr.ok("stop", "-t", "1", "phoenix")
    assert kr.ok("inspect", "-f", "{{.State.Status}}", "phoenix").stdout.strip() == "exited"
    count = kr.ok("inspect", "-f", "{{.RestartCount}}", "phoenix").stdout
    time.sleep(1)
    assert kr.ok("inspect", "-f", "{{.RestartCount}}", "phoenix").stdout == count
    # the monitor exits once it has recorded the stop; it may take a moment under load
    wait_for(lambda: not monitor_pids(kr.runroot), timeout=10, what="the monitor to exit")


@pytest.mark.parametrize("verb", [["stop"], ["kill"], ["rm", "-f"]])
def test_stop_during_a_long_back_off_is_prompt(kr, verb):
    """As `docker stop`: a stop, kill or rm -f of a container waiting out a long restart
    back-off (0.1 s doubled on each restart: 3.2 s after five) returns at once, not when the
    wait is over; the container stays down."""
    cid = kr.ok("run", "-d", "--restart", "always", "--network", "none", "busybox", "false").stdout.strip()
    wait_for(lambda: kr.ok("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", cid).stdout.split()
             == ["restarting", "5"], timeout=30, what="the sixth exit's back-off (3.2 s)")
    start = time.monotonic()
    kr.ok(*verb, cid)
    if verb[0] != "rm":   # kill returns at once; the monitor then records the container down
        wait_for(lambda: kr.ok("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "exited",
                 what="the container to stay down")
    took = time.monotonic() - start
    assert took < 1.5, f"{' '.join(verb)} took {took:.1f} s: it waited for the back-off to end"
    if verb[0] != "rm":
        wait_for(lambda: not monitor_pids(kr.runroot), what="the monitor to exit")
        assert kr.ok("inspect", "-f", "{{.RestartCount}}", cid).stdout.strip() == "5"
        kr.ok("rm", cid)
    assert_nothing_left(kr, [cid])


@pytest.mark.parametrize("verb", ["stop", "kill"])
def test_a_stop_that_saw_restarting_ends_a_restart_recorded_just_before_it(kr, verb):
    """A stop or kill that read the container as restarting, when its monitor recorded the
    restart just before the stop recorded that it must stay down: the monitor saw no such
    record and signalled nothing, so the stop signals the restarted process as any running
    one. (Here the read is stale by a whole back-off; in life the window is a few ms.)"""
    from krat.engine.config import Paths
    from krat.engine.containers import ContainerService

    script = "n=$(cat /n 2>/dev/null || echo 0); echo $((n+1)) > /n; [ $n -ge 3 ] && exec sleep 300; exit 1"
    cid = kr.ok("run", "-d", "--restart", "always", "--network", "none", "busybox", "sh", "-c",
                script).stdout.strip()
    svc = ContainerService(Paths.resolve(str(kr.root), str(kr.runroot)))
    try:
        seen = wait_for(lambda: (lambda c: c if c.status == "restarting" else None)(svc.get(cid)),
                        timeout=20, what="a back-off")
        wait_for(lambda: kr.ok("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", cid).stdout.split()
                 == ["running", "3"], timeout=20, what="the restart that stays up")
        getattr(svc, verb)(seen)
    finally:
        svc.db.close()
    wait_for(lambda: kr.ok("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "exited", timeout=5,
             what="the restarted process to be ended")
    wait_for(lambda: not monitor_pids(kr.runroot), what="the monitor to exit")
    assert kr.ok("inspect", "-f", "{{.RestartCount}}", cid).stdout.strip() == "3"
    kr.ok("rm", cid)
    assert_nothing_left(kr, [cid])


def test_logs_rotate_and_options(kr):
    cid = kr.ok("run", "--name", "chatty", "--log-opt", "max-size=2k", "--log-opt", "max-file=2", "busybox",
                "sh", "-c", "for i in $(seq 500); do echo line $i; done").stdout
    log = kr.root / "containers"
    cid = kr.ok("inspect", "-f", "{{.Id}}", "chatty").stdout.strip()
    files = sorted(p.name for p in (log / cid).iterdir() if "json.log" in p.name)
    assert files == [f"{cid}-json.log", f"{cid}-json.log.1"]
    assert all((log / cid / f).stat().st_size <= 2048 for f in files)
    out = kr.ok("logs", "chatty").stdout.splitlines()
    assert out[-1] == "line 500" and len(out) < 500
    assert kr.ok("logs", "--tail", "2", "chatty").stdout == "line 499\nline 500\n"
    stamped = kr.ok("logs", "-t", "--tail", "1", "chatty").stdout
    assert stamped.endswith(" line 500\n") and stamped[:4].isdigit() and "T" in stamped.split()[0]
    assert kr.ok("logs", "--since", "1h", "--tail", "1", "chatty").stdout == "line 500\n"
    assert kr.ok("logs", "--until", "2000-01-01T00:00:00Z", "chatty").stdout == ""


def test_logs_follow_ends_with_the_container(kr):
    kr.ok("run", "-d", "--name", "fol", "busybox", "sh", "-c", "echo a; sleep 1; echo b")
    proc = kr("logs", "-f", "fol", timeout=30)
    assert proc.returncode == 0 and proc.stdout == "a\nb\n"


def test_idle_monitor_rss(kr):
    kr.ok("run", "-d", "busybox", "sleep", "60")
    [pid] = monitor_pids(kr.runroot)
    rss_kib = int(open(f"/proc/{pid}/status").read().split("VmRSS:")[1].split()[0])
    assert rss_kib <= 12 * 1024, f"monitor RSS {rss_kib} KiB"


def test_rm_handoff_falls_back_to_the_monitor_when_the_client_goes_away(kr):
    """`run --rm` in the foreground removes its container itself when the monitor hands that
    over; a client that leaves without doing it must not leave the container behind."""
    import json as _json

    from krat.engine.attach import FrameReader, connect
    from krat.engine.monitorproto import EXIT

    cid = kr.ok("run", "-d", "--rm", "--network", "none", "busybox", "sh", "-c", "sleep 2; exit 3").stdout.strip()
    sock = connect(kr.runroot / "containers" / cid, stream=True, owner=True)
    reader, exit_msg = FrameReader(sock), None
    while exit_msg is None:
        frames = reader.feed()
        assert frames is not None, "the monitor closed the socket before the exit"
        exit_msg = next((_json.loads(p) for k, p in frames if k == EXIT), None)
    assert exit_msg == {"code": 3, "final": True, "cleanup": True}
    assert kr.ok("ps", "-aq", "--no-trunc").stdout.split() == [cid]   # waiting for us
    sock.close()                                                        # gone without removing it
    wait_for(lambda: kr.ok("ps", "-aq").stdout.strip() == "", timeout=20)
    wait_for(lambda: not monitor_pids(kr.runroot), timeout=20)
    assert_nothing_left(kr, [cid])


def test_rm_handoff_owner_dying_mid_removal_leaves_it_to_the_next_command(kr):
    """The owner said REMOVING, so the monitor released the kernel's side, answered UNMOUNTED
    and RELEASED and exited; the owner then died before removing the storage and the row. The row says running with no
    monitor: the next command removes the container, as for any --rm container whose
    monitor is gone."""
    from krat.engine.attach import FrameReader, connect
    from krat.engine.monitorproto import EXIT, RELEASED, REMOVING, frame

    cid = kr.ok("run", "-d", "--rm", "--network", "none", "busybox", "sh", "-c", "sleep 1; exit 3").stdout.strip()
    sock = connect(kr.runroot / "containers" / cid, stream=True, owner=True)
    reader, kinds = FrameReader(sock), []
    while RELEASED not in kinds:
        frames = reader.feed()
        assert frames is not None, f"the monitor closed the socket after {kinds}"
        if EXIT in [k for k, _ in frames]:
            sock.sendall(frame(REMOVING, b""))
        kinds += [k for k, _ in frames]
    assert reader.feed() is None               # EOF: the monitor has exited
    assert not monitor_pids(kr.runroot)
    assert cid not in open("/proc/mounts").read(), "the monitor unmounted the rootfs"
    sock.close()                               # gone without deleting the row
    assert kr.ok("ps", "-aq").stdout.strip() == ""
    assert_nothing_left(kr, [cid])


def test_rm_owner_releases_what_a_dead_monitor_left(kr):
    """The owner of an --rm container finds its monitor gone before RELEASED (kill -9): it
    kills the container and releases its cgroups, mount and storage itself."""
    from krat.engine.attach import connect
    from krat.engine.config import Paths
    from krat.engine.containers import ContainerService

    cid = kr.ok("run", "-d", "--rm", "--network", "none", "busybox", "sleep", "300").stdout.strip()
    sock = connect(kr.runroot / "containers" / cid, stream=True, owner=True)
    [pid] = monitor_pids(kr.runroot)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not monitor_pids(kr.runroot), timeout=20)
    svc = ContainerService(Paths.resolve(str(kr.root), str(kr.runroot)))
    try:
        svc.finish_removal(svc.get(cid), sock)
    finally:
        svc.db.close()
    assert kr.ok("ps", "-aq").stdout.strip() == ""
    assert_nothing_left(kr, [cid])


def test_foreground_rm_run_leaves_nothing(kr):
    assert kr("run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; exit 4").returncode == 4
    assert kr.ok("ps", "-aq").stdout.strip() == ""
    wait_for(lambda: not monitor_pids(kr.runroot), timeout=20)
    assert_nothing_left(kr)


def _slow_runc(tmp_path, verb: str):
    """runc, but its `verb` (create, delete) takes a second more: a window to act in."""
    import shutil

    runtime = tmp_path / f"slow-{verb}-runc"
    runtime.write_text(f'#!/bin/sh\nfor a in "$@"; do [ "$a" = {verb} ] && sleep 1; done\n'
                       f'exec {shutil.which("runc")} "$@"\n')
    runtime.chmod(0o755)
    return runtime


@pytest.mark.parametrize("verb", [["stop", "-t", "1"], ["kill"]])
def test_stop_while_the_monitor_restarts_the_container_keeps_it_down(kr, tmp_path, verb):
    """A stop or kill that finds the container restarting, just after the monitor checked for
    one and while it is starting the container again (here: a runtime whose create takes a
    second), leaves it down: the process the restart started is ended, not left running."""
    runtime = _slow_runc(tmp_path, "create")
    data = tmp_path / "data"
    data.mkdir()
    # the first run exits at once (a restart follows); the restarted one would run for long
    cid = kr.ok("run", "-d", "--runtime", str(runtime), "--restart", "always", "--network", "none",
                "-v", f"{data}:/data", "busybox", "sh", "-c",
                "if [ -e /data/once ]; then exec sleep 1000; fi; touch /data/once; exit 1").stdout.strip()
    wait_for(lambda: (data / "once").exists(), timeout=30, what="the first run")
    wait_for(lambda: kr.ok("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "restarting",
             timeout=30, what="the restart")
    time.sleep(0.3)   # past the 0.1 s back-off: the monitor is in the slow create now
    kr.ok(*verb, cid)
    wait_for(lambda: kr.ok("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "exited",
             timeout=20, what="the container to be down")
    time.sleep(1.5)   # it would have been restarted, or left running, by now
    assert kr.ok("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "exited"
    wait_for(lambda: not monitor_pids(kr.runroot), what="the monitor to exit")
    kr.ok("rm", cid)
    assert_nothing_left(kr, [cid])


def test_rm_between_an_exit_and_its_restart_refuses_without_force(kr, tmp_path):
    """Between a restart policy's exit and its "restarting" record (here: a runtime whose
    delete takes a second), the container shows exited but its monitor is about to start it
    again: `rm` refuses at once, as for a restarting container (Docker: stop it or use
    --force), instead of waiting for that monitor and removing under it; `rm -f` removes it."""
    runtime = _slow_runc(tmp_path, "delete")
    cid = kr.ok("run", "-d", "--runtime", str(runtime), "--restart", "always", "--network", "none",
                "busybox", "sh", "-c", "sleep 0.2; exit 1").stdout.strip()
    wait_for(lambda: kr.ok("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "exited",
             timeout=30, what="the first exit")
    start = time.monotonic()
    proc = kr("rm", cid)
    assert time.monotonic() - start < 2.0
    # as for a running container: exit 1, one line
    assert proc.returncode == 1 and "restarting" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    kr.ok("rm", "-f", cid)
    wait_for(lambda: not monitor_pids(kr.runroot), what="the monitor to exit")
    assert_nothing_left(kr, [cid])
