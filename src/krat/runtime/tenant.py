"""exec: another process in a running container ("tenant", as youki says), through the same init steps."""

from __future__ import annotations

import json
import os

from krat.errors import Conflict
from krat.oci import records
from krat.oci.process import Process
from krat.oci.runtime import Spec
from krat.runtime import syscalls as sc
from krat.runtime.cgroups import Cgroup
from krat.runtime.container import cgroup_of, status_of
from krat.runtime.creation import _prepare_context, _write_pid_file
from krat.runtime.init import EXEC_STEPS
from krat.runtime.records import DEFAULT_ROOT, Record, Store, check_operation
from krat.runtime.spawn import Launch, spawn


def exec_process(container_id: str, process: Process, state_root: str = DEFAULT_ROOT,
                 stdio: tuple[int, int, int] | None = (0, 1, 2), console_socket: str | None = None,
                 pid_file: str | None = None) -> int:
    """Run another process in a running container (its namespaces, cgroup, seccomp); return its pid."""
    store = Store(state_root)
    record = store.load(container_id)
    check_operation(container_id, "exec", status_of(record, state_root))
    with open(os.path.join(store.dir(container_id), "config.json")) as f:
        spec = records.replace(Spec.from_json(json.load(f)), process=process)
    cgroup = cgroup_of(record)
    ctx = _prepare_context(spec, "/", cgroup, console_socket)
    launch = _exec_launch(record, spec, cgroup, stdio)
    try:
        pid = spawn(launch, ctx, EXEC_STEPS)
    finally:
        for _, fd in launch.join:
            os.close(fd)
        if ctx.console is not None:
            ctx.console.close()
    if pid_file:
        _write_pid_file(pid_file, pid)
    return pid


def _exec_launch(record: Record, spec: Spec, cgroup: Cgroup, stdio: tuple[int, int, int] | None) -> Launch:
    """Join every namespace of the container's init that differs from ours (mount last: it moves our root)."""
    launch = Launch(stdio=stdio, cgroup_dirs=list(cgroup.dirs.values()))
    try:
        for ns in spec.linux.namespaces:
            name = sc.NAMESPACE_FILES[ns.type]
            own = f"/proc/{record.pid}/ns/{name}"
            if os.stat(own).st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
                launch.join.append((ns.type, os.open(own, os.O_RDONLY | os.O_CLOEXEC)))
    except FileNotFoundError as err:
        for _, fd in launch.join:
            os.close(fd)
        raise Conflict(f"cannot exec in container {record.id}: it is stopped") from err
    launch.join.sort(key=lambda item: item[0] == "mount")
    return launch
