"""exec: another process in a running container ("tenant", as youki says), through the same init steps.

What the process joins comes from the container's state, not from parsing its whole
config.json into a Spec: the namespaces of its init, its cgroup, and the seccomp program
create compiled (seccomp.bpf in the state directory). `krat exec` is timed against
`docker exec`, so this path imports no json, re, enum or libseccomp.
"""

from __future__ import annotations

import os

from krat.errors import Conflict
from krat.oci import jsoncodec as json
from krat.oci.process import Process
from krat.runtime import syscalls as sc
from krat.runtime.bpf import Program
from krat.runtime.cgroups import Cgroup
from krat.runtime.container import cgroup_of, status_of
from krat.runtime.init import EXEC_STEPS, process_context
from krat.runtime.records import DEFAULT_ROOT, SECCOMP_BPF, Record, Store, check_operation, write_pid_file
from krat.runtime.spawn import Launch, spawn, spawn_joined


class Joining:
    """What an exec's steps read of the spec (InitContext.spec): the new process alone, the
    container being built already; in place of a whole oci.runtime.Spec, whose module and
    oci.linux's cost `krat exec` ~0.6 ms to import."""

    __slots__ = ("process",)

    def __init__(self, process: Process) -> None:
        self.process = process

    def hooks_of(self, kind: str) -> tuple:
        return ()


def exec_process(container_id: str, process: Process, state_root: str = DEFAULT_ROOT,
                 stdio: tuple[int, int, int] | None = (0, 1, 2), console_socket: str | None = None,
                 pid_file: str | None = None) -> int:
    """Run another process in a running container (its namespaces, cgroup, seccomp); return its pid."""
    store = Store(state_root)
    record = store.load(container_id)
    cgroup = cgroup_of(record)  # reads mountinfo (v1): once for the status and the join
    check_operation(container_id, "exec", status_of(record, state_root, cgroup))
    directory = store.dir(container_id)
    with open(os.path.join(directory, "config.json"), "rb") as f:
        config = json.loads(f.read())
    linux = config.get("linux") or {}
    filter_ = _seccomp_filter(directory, linux.get("seccomp"))
    # The steps run after the child has joined the container's mount namespace, where nothing
    # is imported (see init.py): what an optional step uses is loaded here.
    if process.terminal:
        from krat.runtime import mounts  # noqa: F401
    if process.rlimits:
        import resource  # noqa: F401
    ctx = process_context(Joining(process), "/", console_socket)  # type: ignore[arg-type]
    ctx.filter = filter_
    try:
        launch = _exec_launch(record, [ns.get("type", "") for ns in linux.get("namespaces") or ()], cgroup, stdio)
    except BaseException:
        if ctx.console is not None:
            ctx.console.close()
        raise
    try:
        if any(kind == "user" for kind, _ in launch.join):
            pid = spawn(launch, ctx, EXEC_STEPS)
        else:
            pid = spawn_joined(launch, ctx, EXEC_STEPS)
    finally:
        for _, fd in launch.join:
            os.close(fd)
        if ctx.console is not None:
            ctx.console.close()
    if pid_file:
        write_pid_file(pid_file, pid)
    return pid


def _seccomp_filter(directory: str, profile: dict | None):
    """The program create compiled; a container created before create kept it is compiled here."""
    if profile is None:
        return None
    try:
        with open(os.path.join(directory, SECCOMP_BPF), "rb") as f:
            return Program(f.read())  # without the compiler (seccomp.py)
    except FileNotFoundError:
        from krat.oci.linux import Linux
        from krat.runtime import seccomp

        return seccomp.Filter(Linux.from_json({"seccomp": profile}).seccomp, seccomp.default_cache_dir())


def _exec_launch(record: Record, namespaces: list[str], cgroup: Cgroup, stdio: tuple[int, int, int] | None) -> Launch:
    """Join every namespace of the container's init that differs from ours (mount last: it moves our root)."""
    launch = Launch(stdio=stdio, cgroup_dirs=list(cgroup.dirs.values()))
    try:
        for kind in namespaces:
            name = sc.NAMESPACE_FILES[kind]
            own = f"/proc/{record.pid}/ns/{name}"
            if os.stat(own).st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
                launch.join.append((kind, os.open(own, os.O_RDONLY | os.O_CLOEXEC)))
    except FileNotFoundError as err:
        for _, fd in launch.join:
            os.close(fd)
        raise Conflict(f"cannot exec in container {record.id}: it is stopped") from err
    launch.join.sort(key=lambda item: item[0] == "mount")
    return launch
