"""The OCI operations on one container: create, start, state, kill, delete, pause, resume, ps.

These are the in-process API (krat.runtime re-exports them) and what the CLI calls.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time

from krat.errors import Conflict, InvalidArgument, NotFound
from krat.oci.process import Process
from krat.oci.runtime import ContainerStatus, Spec, State, load_spec
from krat.runtime import capabilities as caps
from krat.runtime import syscalls as sc
from krat.runtime.cgroups import Cgroup, cgroup_path, hierarchies
from krat.runtime.init import EXEC_STEPS, INIT_STEPS, InitContext
from krat.runtime.spawn import Launch, spawn
from krat.runtime.records import DEFAULT_ROOT, Record, Store, alive, check_operation, check_transition, proc_start

S = ContainerStatus


def _now() -> str:
    """RFC 3339 UTC with nanoseconds, as runc writes `created`."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def _prepare_context(spec: Spec, rootfs: str, cgroup: Cgroup, console_socket: str | None,
                     state_root: str) -> InitContext:
    ctx = InitContext(spec=spec, rootfs=rootfs, sys=sc.LinuxSyscalls())
    if spec.process.capabilities is not None:
        ctx.cap_masks = caps.masks(spec.process.capabilities, caps.held())
        ctx.cap_top = caps.last_cap()
    if spec.linux.seccomp is not None:
        from krat.runtime import seccomp

        ctx.filter = seccomp.Filter(spec.linux.seccomp, seccomp.default_cache_dir())
    if spec.process.terminal:
        if not console_socket:
            raise InvalidArgument("process.terminal is true: --console-socket is required")
        ctx.console = _connect(console_socket)
    elif console_socket:
        raise InvalidArgument("--console-socket needs process.terminal: true")
    ctx.cgroup_dirs = dict(cgroup.dirs)
    ctx.hierarchies = [h for h in hierarchies() if h.controllers] if not cgroup.v2 else []
    ctx.cgroupns = spec.linux.namespace("cgroup") is not None
    return ctx


def _connect(path: str):
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as err:
        sock.close()
        raise InvalidArgument(f"--console-socket {path}: {err.strerror}") from err
    return sock


def _launch(spec: Spec, cgroup: Cgroup, stdio: tuple[int, int, int] | None) -> Launch:
    launch = Launch(stdio=stdio, cgroup_dirs=list(cgroup.dirs.values()),
                    uid_mappings=spec.linux.uid_mappings, gid_mappings=spec.linux.gid_mappings)
    if spec.linux.namespace("mount") is None:
        raise InvalidArgument("linux.namespaces: a mount namespace is required")
    for ns in spec.linux.namespaces:
        if ns.path:
            try:
                launch.join.append((ns.type, os.open(ns.path, os.O_RDONLY | os.O_CLOEXEC)))
            except OSError as err:
                raise InvalidArgument(f"linux.namespaces: {ns.type} namespace {ns.path}: {err.strerror}") from err
        elif ns.type == "user":
            launch.new_user = True
        else:
            launch.unshare_flags |= sc.NAMESPACE_FLAGS[ns.type]
    return launch


def create(container_id: str, bundle: str, state_root: str = DEFAULT_ROOT,
           stdio: tuple[int, int, int] | None = (0, 1, 2), console_socket: str | None = None,
           pid_file: str | None = None, preserve_fds: int = 0) -> int:
    """Set the container up and leave its process waiting for `start`; return its pid."""
    bundle = os.path.abspath(bundle)
    spec = load_spec(os.path.join(bundle, "config.json"))
    rootfs = os.path.normpath(os.path.join(bundle, spec.root.path))
    if not os.path.isdir(rootfs):
        raise InvalidArgument(f"root.path: {rootfs} is not a directory")
    store = Store(state_root)
    record = Record(container_id, bundle, rootfs, created=_now(),
                    cgroup=cgroup_path(spec.linux.cgroups_path, container_id),
                    annotations=dict(spec.annotations))
    directory = store.reserve(record)
    cgroup = Cgroup(record.cgroup)
    try:
        with open(os.path.join(directory, "config.json"), "w") as f:
            f.write(json.dumps(spec.to_json()))  # dumps: json.dump would take the pure-Python encoder
        cgroup.create()
        cgroup.apply(spec.linux.resources)
        ctx = _prepare_context(spec, rootfs, cgroup, console_socket, state_root)
        ctx.preserve_fds = preserve_fds
        pid = _spawn_init(spec, ctx, cgroup, stdio, _make_fifo(directory, spec))
        record.pid, record.pid_start, record.status = pid, proc_start(pid) or "", S.CREATED.value
        store.save(record)
        if pid_file:
            _write_pid_file(pid_file, pid)
        return pid
    except BaseException:
        _kill_cgroup(cgroup)
        cgroup.destroy()
        store.remove(container_id)
        raise


def _make_fifo(directory: str, spec: Spec) -> str:
    """exec.fifo: the init blocks opening it for writing until `start` opens it for reading."""
    fifo = os.path.join(directory, "exec.fifo")
    os.mkfifo(fifo, 0o622)
    os.chown(fifo, _host_id(spec.linux.uid_mappings, spec.process.user.uid),
             _host_id(spec.linux.gid_mappings, spec.process.user.gid))  # reopened by the container's user
    return fifo


def _spawn_init(spec: Spec, ctx: InitContext, cgroup: Cgroup, stdio: tuple[int, int, int] | None,
                fifo: str) -> int:
    ctx.fifo = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
    launch = Launch(stdio=None, cgroup_dirs=[])
    try:
        launch = _launch(spec, cgroup, stdio)
        return spawn(launch, ctx, INIT_STEPS)
    finally:
        os.close(ctx.fifo)
        if ctx.console is not None:
            ctx.console.close()
        for _, fd in launch.join:
            os.close(fd)


def _host_id(mappings, container_id: int) -> int:
    for m in mappings:
        if m.container_id <= container_id < m.container_id + m.size:
            return m.host_id + container_id - m.container_id
    return container_id


def _write_pid_file(path: str, pid: int) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)


def status_of(record: Record, cgroup: Cgroup | None = None) -> ContainerStatus:
    if record.status == S.CREATING.value:
        return S.CREATING if record.pid == 0 or alive(record) else S.STOPPED
    if not alive(record):
        return S.STOPPED
    if (cgroup or Cgroup(record.cgroup)).frozen():
        return S.PAUSED
    return S.CREATED if record.status == S.CREATED.value else S.RUNNING


def state(container_id: str, state_root: str = DEFAULT_ROOT) -> State:
    record = Store(state_root).load(container_id)
    status = status_of(record)
    return State(container_id, status, record.pid, record.bundle, rootfs=record.rootfs, created=record.created,
                 annotations=tuple(record.annotations.items()))


def start(container_id: str, state_root: str = DEFAULT_ROOT) -> None:
    """Release the process waiting in exec.fifo: it execs the user's program."""
    store = Store(state_root)
    record = store.load(container_id)
    check_transition(container_id, status_of(record), S.RUNNING)
    fifo = os.path.join(store.dir(container_id), "exec.fifo")
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as err:
        raise Conflict(f"container {container_id} was already started") from err
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                if os.read(fd, 1):
                    break
                time.sleep(0.001)  # EOF: the init has not opened its end yet
            if not alive(record):
                raise Conflict(f"container {container_id} is stopped: its process exited before start")
    finally:
        os.close(fd)
    os.unlink(fifo)
    record.status = S.RUNNING.value
    store.save(record)


SIGNALS = {name[3:]: int(getattr(signal, name)) for name in dir(signal)
           if name.startswith("SIG") and not name.startswith("SIG_") and isinstance(getattr(signal, name), int)}


def parse_signal(text: str | int) -> int:
    if isinstance(text, int) or str(text).isdigit():
        number = int(text)
        if not 0 < number < 65:
            raise InvalidArgument(f"invalid signal {text!r}")
        return number
    name = str(text).upper().removeprefix("SIG")
    if name not in SIGNALS:
        raise InvalidArgument(f"invalid signal {text!r}")
    return SIGNALS[name]


def kill(container_id: str, sig: str | int = "SIGTERM", all_processes: bool = False,
         state_root: str = DEFAULT_ROOT) -> None:
    number = parse_signal(sig)
    record = Store(state_root).load(container_id)
    check_operation(container_id, "kill", status_of(record))
    if all_processes:
        for pid in Cgroup(record.cgroup).procs():
            _signal(pid, number)
    else:
        _signal(record.pid, number)


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def _kill_cgroup(cgroup: Cgroup, timeout: float = 10.0) -> None:
    """SIGKILL every process of the cgroup (thawing it first) and wait until it is empty."""
    if cgroup.frozen():
        for pid in cgroup.procs():
            _signal(pid, signal.SIGKILL)
        cgroup.freeze(False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = cgroup.procs()
        if not pids:
            return
        for pid in pids:
            _signal(pid, signal.SIGKILL)  # never reaped here: the caller's wait() owns the exit status
        time.sleep(0.005)


def delete(container_id: str, force: bool = False, state_root: str = DEFAULT_ROOT) -> None:
    """Undo create: kill what is left (with force), remove the cgroup and the state."""
    store = Store(state_root)
    try:
        record = store.load(container_id)
    except NotFound:
        store.remove(container_id)  # a create that died before writing state.json leaves a directory
        if force:
            return  # as runc: --force on a container that is gone is not an error
        raise
    status = status_of(record)
    if status is not S.STOPPED and not force:
        check_operation(container_id, "delete", status)
    cgroup = Cgroup(record.cgroup)
    if alive(record):
        _signal(record.pid, signal.SIGKILL)
    _kill_cgroup(cgroup)
    cgroup.destroy()
    store.remove(container_id)


def pause(container_id: str, state_root: str = DEFAULT_ROOT) -> None:
    record = Store(state_root).load(container_id)
    check_transition(container_id, status_of(record), S.PAUSED)
    Cgroup(record.cgroup).freeze(True)


def resume(container_id: str, state_root: str = DEFAULT_ROOT) -> None:
    record = Store(state_root).load(container_id)
    current = status_of(record)
    if current is not S.PAUSED:
        raise Conflict(f"container {container_id} is {current.value}: it cannot be resumed (needs paused)")
    Cgroup(record.cgroup).freeze(False)


def processes(container_id: str, state_root: str = DEFAULT_ROOT) -> list[int]:
    record = Store(state_root).load(container_id)
    return Cgroup(record.cgroup).procs()


def oom_killed(container_id: str, state_root: str = DEFAULT_ROOT) -> bool:
    """Whether the kernel's OOM killer took a process of this container (call before delete)."""
    record = Store(state_root).load(container_id)
    return Cgroup(record.cgroup).oom_kills() > 0


def list_states(state_root: str = DEFAULT_ROOT) -> list[State]:
    out = []
    for container_id in Store(state_root).ids():
        try:
            out.append(state(container_id, state_root))
        except NotFound:
            continue  # deleted meanwhile
    return out


def exec_process(container_id: str, process: Process, state_root: str = DEFAULT_ROOT,
                 stdio: tuple[int, int, int] | None = (0, 1, 2), console_socket: str | None = None,
                 pid_file: str | None = None) -> int:
    """Run another process in a running container (its namespaces, cgroup, seccomp); return its pid."""
    store = Store(state_root)
    record = store.load(container_id)
    check_operation(container_id, "exec", status_of(record))
    from krat.oci.runtime import Spec as _Spec

    with open(os.path.join(store.dir(container_id), "config.json")) as f:
        base = _Spec.from_json(json.load(f))
    import dataclasses

    spec = dataclasses.replace(base, process=process)
    cgroup = Cgroup(record.cgroup)
    ctx = _prepare_context(spec, "/", cgroup, console_socket, state_root)
    launch = Launch(stdio=stdio, cgroup_dirs=list(cgroup.dirs.values()))
    for ns in spec.linux.namespaces:
        own = f"/proc/{record.pid}/ns/{sc.NAMESPACE_FILES[ns.type]}"
        if os.stat(own).st_ino != os.stat(f"/proc/self/ns/{sc.NAMESPACE_FILES[ns.type]}").st_ino:
            launch.join.append((ns.type, os.open(own, os.O_RDONLY | os.O_CLOEXEC)))
    launch.join.sort(key=lambda item: item[0] == "mount")  # mount last: it changes our root
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


def wait(pid: int) -> int:
    """Wait for a process this caller spawned; its exit code, or 128+N when killed by signal N."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
