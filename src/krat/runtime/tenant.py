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
from krat.oci.process import Process, Root
from krat.oci.runtime import Spec
from krat.runtime import syscalls as sc
from krat.runtime.bpf import Program
from krat.runtime.cgroups import Cgroup
from krat.runtime.container import cgroup_of, status_of
from krat.runtime.creation import SECCOMP_BPF, _write_pid_file, process_context
from krat.runtime.init import EXEC_STEPS
from krat.runtime.records import DEFAULT_ROOT, Record, Store, check_operation
from krat.runtime.spawn import Launch, spawn, spawn_joined


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
    # The container is built already: the steps read only the new process (root is not used).
    spec = Spec(process=process, root=Root(path=record.rootfs))
    ctx = process_context(spec, "/", console_socket)
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
        _write_pid_file(pid_file, pid)
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
