"""A container's processes start with every signal at its default action, whatever the
process that started krat ignored: as Docker's do."""

from __future__ import annotations

import subprocess
import time

import pytest

from engine_helpers import assert_nothing_left

pytestmark = pytest.mark.root


def _soon(check, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return False


STANDARD = (1 << 31) - 1   # signals 1-31 (runc leaves the C library's 32 ignored)


def _ignored(text: str) -> int:
    return int(text.split("SigIgn:")[1].split()[0], 16) & STANDARD


def test_a_containers_process_ignores_no_signal_whatever_started_krat(kr, runtime):
    """nohup (SIGHUP), a shell's `&` (SIGINT, SIGQUIT), the monitor (SIGHUP, SIGINT): exec keeps
    ignored signals ignored, but a container's processes start, as Docker's, with none
    ignored: run, exec, and after a restart."""
    import signal

    def ignoring() -> None:
        for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_IGN)

    probe = ["busybox", "grep", "SigIgn", "/proc/self/status"]
    proc = subprocess.run(kr.argv("run", "--rm", *probe), env=kr.env, preexec_fn=ignoring,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert _ignored(proc.stdout) == 0, proc.stdout
    proc = subprocess.run(kr.argv("run", "-d", "--restart", "on-failure:1", "busybox", "sh", "-c",
                                  "grep SigIgn /proc/self/status; sleep 0.3; exit 3"),
                          env=kr.env, preexec_fn=ignoring, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    cid = proc.stdout.strip()
    assert _soon(lambda: kr.ok("logs", cid).stdout.count("SigIgn") == 2)   # the restart's too
    assert [_ignored(line) for line in kr.ok("logs", cid).stdout.splitlines()] == [0, 0]
    kr.ok("run", "-d", "--name", "sig-exec", "busybox", "sleep", "60")
    out = subprocess.run(kr.argv("exec", "sig-exec", "grep", "SigIgn", "/proc/self/status"), env=kr.env,
                         preexec_fn=ignoring, capture_output=True, text=True, timeout=60).stdout
    assert _ignored(out) == 0, out
    kr.ok("rm", "-f", cid, "sig-exec")
    assert_nothing_left(kr)
