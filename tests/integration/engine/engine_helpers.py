"""Helpers for container tests: leak checks and polling."""

from __future__ import annotations

import os
import time
from pathlib import Path


def monitor_pids(runroot: Path) -> list[int]:
    """The monitors of this runroot's containers. A monitor's runtime child is a fork with
    the same command line, briefly alive after a start: children of a monitor do not count."""
    found: dict[int, int] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"krat.engine.monitor" in cmd and _monitor_of(cmd, runroot):
            found[int(pid)] = ppid
    return [pid for pid, ppid in found.items() if ppid not in found]


def _monitor_of(cmdline: bytes, runroot: Path) -> bool:
    import marshal

    args = cmdline.split(b"\0")
    if b"--early" in args:   # `run`'s monitor, started before its config: its run dir is last
        return args[-2].decode().startswith(str(runroot))
    try:
        cfg = marshal.loads(bytes.fromhex(cmdline.split(b"\0")[-2].decode()))
    except (ValueError, EOFError, IndexError):
        return False
    return cfg.get("dir", "").startswith(str(runroot))


def assert_nothing_left(krat, ids: list[str] | None = None) -> None:
    """No mounts under the test's dirs, no cgroups or monitors of its containers, no rows."""
    root = str(krat.root.parent)
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    assert not [m for m in mounts if m.startswith(root)], "mounts left behind"
    assert not monitor_pids(krat.runroot), "monitor processes left behind"
    assert krat("ps", "-aq").stdout.strip() == "", "containers left in the database"
    containers = krat.root / "containers"
    left = os.listdir(containers) if containers.exists() else []
    assert not left, f"container directories left: {left}"
    for cid in ids or []:
        for base in ("/sys/fs/cgroup/memory/krat", "/sys/fs/cgroup/pids/krat", "/sys/fs/cgroup/krat"):
            assert not os.path.exists(f"{base}/{cid}"), f"cgroup {base}/{cid} left behind"
    state = krat.runroot / "runtime"
    if state.exists():
        for rt in os.listdir(state):
            assert not [d for d in os.listdir(state / rt) if not d.startswith(".")], "runtime state left"


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
