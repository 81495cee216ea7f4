"""Every process of a container, its first one and the ones `exec` adds, is in the
container's own cgroup in every hierarchy the host has (krat's runtime moves a fresh
process in through v1's `tasks` file; this checks it lands wholly, as cgroup.procs would)."""

from __future__ import annotations

from pathlib import Path

from engine_helpers import wait_for


def cgroups_of(pid: int) -> dict[str, str]:
    """/proc/PID/cgroup as {controllers: path}, the v2 line ("0::") left out on hybrid hosts."""
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        out[controllers] = path
    if len(out) > 1:
        out.pop("", None)
    return out


def pid_of_command(text: str) -> int | None:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip() == text.encode():
                    return int(entry.name)
            except OSError:
                continue
    return None


def test_init_and_exec_processes_are_in_the_containers_cgroups(kr, runtime):
    cid = kr.ok("run", "-d", "--name", "member", "busybox", "sleep", "300").stdout.strip()
    init = int(kr.ok("inspect", "-f", "{{.State.Pid}}", "member").stdout)
    expected = f"/krat/{cid}"
    assert set(cgroups_of(init).values()) == {expected}, cgroups_of(init)
    # -d returns at once and leaves the caller's output alone (a pipe reader is not kept waiting)
    kr.ok("exec", "-d", "member", "sleep", "301", timeout=30)
    wait_for(lambda: pid_of_command("sleep 301") is not None, what="the exec'd process")
    joined = pid_of_command("sleep 301")
    assert set(cgroups_of(joined).values()) == {expected}, cgroups_of(joined)
    # the pids controller counts both: the exec'd process was moved whole, not one thread
    pids = Path(f"/sys/fs/cgroup/pids{expected}/cgroup.procs")
    if pids.exists():
        assert {init, joined} <= {int(p) for p in pids.read_text().split()}
