"""A container's recorded pid that now belongs to another process: kill, stop and rm -f
signal it only while it is still the container's.

A row names the init's pid until the monitor records its exit; once the init is reaped the
kernel may hand that pid to any host process. The test points the row at a host process of
its own (the state of that window, held open) while the container's real init runs on.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from contextlib import closing

import pytest

from engine_helpers import assert_nothing_left

pytestmark = pytest.mark.root


def _point_row_at(kr, cid: str, pid: int) -> None:
    with closing(sqlite3.connect(kr.root / "krat.db")) as db, db:
        db.execute("UPDATE container_states SET pid = ? WHERE id = ?", (pid, cid))


def _assert_spared(process: subprocess.Popen, seconds: float) -> None:
    try:
        code = process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return
    raise AssertionError(f"the host process holding the recorded pid was signalled (exit {code})")


@pytest.mark.parametrize("verb", ["kill", "stop", "rm -f"])
def test_a_reused_pid_is_not_signalled(kr, runtime, verb):
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        cid = kr.ok("run", "-d", "--name", "reused", "busybox", "sleep", "300").stdout.strip()
        init = int(kr.ok("inspect", "-f", "{{.State.Pid}}", "reused").stdout)
        _point_row_at(kr, cid, bystander.pid)
        if verb == "kill":
            kr.ok("kill", "reused")
            _assert_spared(bystander, 1.0)
            os.kill(init, signal.SIGKILL)  # the container exits: its monitor records it
            assert kr.ok("wait", "reused").stdout.strip() == "137"
            kr.ok("rm", "reused")
        else:
            # stop and rm -f wait for the monitor to see the exit, which the test then brings
            args = ("stop", "-t", "1", "reused") if verb == "stop" else ("rm", "-f", "reused")
            cli = subprocess.Popen(kr.argv(*args), env=kr.env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
            try:
                _assert_spared(bystander, 3.0)
            finally:
                os.kill(init, signal.SIGKILL)
                _, err = cli.communicate(timeout=60)
            assert cli.returncode == 0, err
            if verb == "stop":
                assert kr.ok("inspect", "-f", "{{.State.Status}}", "reused").stdout.strip() == "exited"
                kr.ok("rm", "reused")
        assert bystander.poll() is None
        assert_nothing_left(kr, [cid])
    finally:
        bystander.kill()
        bystander.wait()
