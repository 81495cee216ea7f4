"""Overlapping the wait of a process's first move into a cgroup with the caller's other work.

Moving a process into a cgroup (a write to cgroup.procs) takes the kernel's one global
cgroup_threadgroup_rwsem for writing. After a quiet spell that waits for an RCU grace
period (rcu_sync_enter; 8-16 ms on these machines), while for a few ms after the last
writer it does not. `krat exec` moves its forked child into the container's cgroups after
its imports; so it first starts a small process that re-writes its own pid into its own
cgroup.procs (a move that changes nothing) every 2 ms until told to stop: the grace period
passes during the imports, and the real move finds the lock warm.
"""

from __future__ import annotations

import os

INTERVAL_S = 0.002
LIMIT = 500  # writes: the helper gives up after ~1 s should its caller never stop it


class Warmup:
    def __init__(self, pid: int, stop_fd: int) -> None:
        self.pid = pid
        self.stop_fd = stop_fd

    def stop(self) -> None:
        """End the helper (EOF on its pipe) and reap it."""
        if self.stop_fd < 0:
            return
        os.close(self.stop_fd)
        self.stop_fd = -1
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def own_procs_file() -> str | None:
    """cgroup.procs of this process's own cgroup in some hierarchy (the lock is global: any will do)."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers.startswith("name="):
            continue
        base = f"/sys/fs/cgroup/{controllers.split(',')[0]}" if controllers else "/sys/fs/cgroup"
        if not controllers and not os.path.exists(os.path.join(base, "cgroup.controllers")):
            base = "/sys/fs/cgroup/unified"  # a hybrid host's cgroup2
        candidate = os.path.join(base, path.lstrip("/"), "cgroup.procs")
        if os.access(candidate, os.W_OK):
            return candidate
    return None


def start() -> Warmup | None:
    """Start the helper; None where there is nothing to warm: no writable cgroup, or a v1
    host, where cgroups.join_self moves a process without that wait."""
    if not os.path.exists("/sys/fs/cgroup/cgroup.controllers") and not os.environ.get("KRAT_CGROUP2_ROOT"):
        return None
    path = own_procs_file()
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return None
    stop_r, stop_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _helper(fd, stop_r, stop_w)
    os.close(fd)
    os.close(stop_r)
    return Warmup(pid, stop_w)


def _helper(fd: int, stop_r: int, stop_w: int) -> None:
    try:
        import select

        os.close(stop_w)
        for std in (0, 1, 2):  # hold none of the caller's pipes open: a reader would wait for us
            try:
                os.close(std)
            except OSError:
                pass
        me = str(os.getpid()).encode()
        for _ in range(LIMIT):
            os.write(fd, me)
            if select.select([stop_r], [], [], INTERVAL_S)[0]:
                break
    finally:
        os._exit(0)
