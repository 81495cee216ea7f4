"""The OCI operations on one container: create, start, state, kill, delete, pause, resume, ps.

These are the in-process API (krat.runtime re-exports them) and what the CLI calls; create is
in creation.py and exec in tenant.py, so these stay light.
"""

from __future__ import annotations

import errno
import os
import select
import _signal as signal  # not `signal`: it builds enums (imports enum)
import time

from krat.errors import Conflict, InvalidArgument, NotFound
from krat.oci import jsoncodec as json
from krat.oci.state import ContainerStatus, State
from krat.runtime.cgroups import CGROUP_ROOT, Cgroup
from krat.runtime.records import DEFAULT_ROOT, Record, Store, alive, check_operation, check_transition

S = ContainerStatus


def _now() -> str:
    """RFC 3339 UTC with nanoseconds, as runc writes `created`."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def cgroup_of(record: Record) -> Cgroup:
    return Cgroup(record.cgroup, record.cgroup_root or CGROUP_ROOT)


def status_of(record: Record, state_root: str, cgroup: Cgroup | None = None) -> ContainerStatus:
    """From the kernel's facts, not only the record: a live init, exec.fifo still there, the freezer.
    cgroup: cgroup_of(record), when the caller has it already."""
    if record.status == S.CREATING.value:
        return S.CREATING if record.pid == 0 or alive(record) else S.STOPPED
    if not alive(record):
        return S.STOPPED
    if (cgroup if cgroup is not None else cgroup_of(record)).frozen():
        return S.PAUSED
    # `start` removes exec.fifo as it releases the init: created until then, running after.
    waiting = os.path.exists(os.path.join(state_root, record.id, "exec.fifo"))
    return S.CREATED if waiting else S.RUNNING


def state(container_id: str, state_root: str = DEFAULT_ROOT) -> State:
    record = Store(state_root).load(container_id)
    status = status_of(record, state_root)
    return State(container_id, status, record.pid, record.bundle, rootfs=record.rootfs, created=record.created,
                 annotations=tuple(record.annotations.items()))


# exec.fifo's read end, opened by a create that start follows at once (arm), by state
# directory: the init's open for writing, which waits for a reader, then returns at once.
_armed: dict[str, int] = {}


def arm(store: Store, container_id: str) -> None:
    """Open exec.fifo's read end now (create, when start follows in this process): the init
    passes the barrier as soon as it is ready, without waiting for start to open it; start
    then takes its byte from this fd. The container may run (and exit) before start is
    called: start does not check its status then, the barrier's byte is the proof."""
    fifo = os.path.join(store.dir(container_id), "exec.fifo")
    _armed[fifo] = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)


def disarm(store: Store, container_id: str) -> None:
    fd = _armed.pop(os.path.join(store.dir(container_id), "exec.fifo"), -1)
    if fd >= 0:
        os.close(fd)


def start(container_id: str, state_root: str = DEFAULT_ROOT) -> None:
    """Release the process waiting in exec.fifo: it execs the user's program."""
    store = Store(state_root)
    record = store.load(container_id)
    fifo = os.path.join(store.dir(container_id), "exec.fifo")
    fd = _armed.pop(fifo, -1)
    if fd < 0:
        check_transition(container_id, status_of(record, state_root), S.RUNNING)
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
    os.unlink(fifo)   # from here on the container is running (status_of): no state.json rewrite
    _run_late_hooks(record, "poststart", S.RUNNING)


_SIGNALS: dict[str, int] | None = None


def _signal_numbers() -> dict[str, int]:
    """Signal names without SIG -> numbers, made on first use: this module is loaded by every
    `run` (the CLI, the monitor before it forks its runtime child), names only by a kill."""
    global _SIGNALS
    if _SIGNALS is None:
        _SIGNALS = {name[3:]: int(getattr(signal, name)) for name in dir(signal)
                    if name.startswith("SIG") and not name.startswith("SIG_") and isinstance(getattr(signal, name), int)}
    return _SIGNALS


def parse_signal(text: str | int) -> int:
    if isinstance(text, int) or str(text).isdigit():
        number = int(text)
        if not 0 < number < 65:
            raise InvalidArgument(f"invalid signal {text!r}")
        return number
    name = str(text).upper().removeprefix("SIG")
    numbers = _signal_numbers()
    if name not in numbers:
        raise InvalidArgument(f"invalid signal {text!r}")
    return numbers[name]


def kill(container_id: str, sig: str | int = "SIGTERM", all_processes: bool = False,
         state_root: str = DEFAULT_ROOT) -> None:
    number = parse_signal(sig)
    record = Store(state_root).load(container_id)
    check_operation(container_id, "kill", status_of(record, state_root))
    if all_processes:
        for pid in cgroup_of(record).procs():
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
    me = os.getpid()   # a create child that entered the cgroup early (creation.enter_cgroup)
    if cgroup.frozen():
        for pid in cgroup.procs():
            if pid != me:
                _signal(pid, signal.SIGKILL)
        cgroup.freeze(False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [pid for pid in cgroup.procs() if pid != me]
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
    if not force:
        status = status_of(record, state_root)
        if status is not S.STOPPED:
            check_operation(container_id, "delete", status)
    running = alive(record)
    cgroup = cgroup_of(record)
    if running or not _remove_empty(cgroup):
        if alive(record):
            _signal(record.pid, signal.SIGKILL)
        _kill_cgroup(cgroup)
        cgroup.destroy()
    _run_late_hooks(record, "poststop", S.STOPPED)
    store.remove(container_id)


def _remove_empty(cgroup: Cgroup) -> bool:
    """rmdir the cgroup's directories; False at the first one still holding a process (EBUSY).
    A stopped container's cgroup is usually empty already (its init's death took its pid
    namespace along), so delete need not read the freezer state and cgroup.procs first."""
    for d in cgroup.dirs.values():
        try:
            os.rmdir(d)
        except FileNotFoundError:
            continue
        except OSError as err:
            if err.errno == errno.EBUSY:
                return False
            raise
    return True


def _run_late_hooks(record: Record, kind: str, status: ContainerStatus) -> None:
    """poststart and poststop: a failure is reported, not fatal (the spec says: warn)."""
    if not record.hooks.get(kind):
        return
    import sys

    from krat.oci.process import Hook
    from krat.runtime import hooks

    state = json.dumps(hooks.state_document(record.id, status.value, record.pid, record.bundle,
                                            record.annotations)).encode()
    for i, doc in enumerate(record.hooks[kind]):
        try:
            hooks.run_hook(kind, Hook.from_json(doc, f"hooks.{kind}[{i}]"), state)
        except (InvalidArgument, OSError) as err:
            sys.stderr.write(f"krat-runtime: warning: {err}\n")


def pause(container_id: str, state_root: str = DEFAULT_ROOT) -> None:
    record = Store(state_root).load(container_id)
    check_transition(container_id, status_of(record, state_root), S.PAUSED)
    cgroup_of(record).freeze(True)


def resume(container_id: str, state_root: str = DEFAULT_ROOT) -> None:
    record = Store(state_root).load(container_id)
    current = status_of(record, state_root)
    if current is not S.PAUSED:
        raise Conflict(f"container {container_id} is {current.value}: it cannot be resumed (needs paused)")
    cgroup_of(record).freeze(False)


def processes(container_id: str, state_root: str = DEFAULT_ROOT) -> list[int]:
    record = Store(state_root).load(container_id)
    return cgroup_of(record).procs()


def oom_killed(container_id: str, state_root: str = DEFAULT_ROOT) -> bool:
    """Whether the kernel's OOM killer took a process of this container (call before delete)."""
    record = Store(state_root).load(container_id)
    return cgroup_of(record).oom_kills() > 0


def list_states(state_root: str = DEFAULT_ROOT) -> list[State]:
    out = []
    for container_id in Store(state_root).ids():
        try:
            out.append(state(container_id, state_root))
        except NotFound:
            continue  # deleted meanwhile
    return out


def wait(pid: int) -> int:
    """Wait for a process this caller spawned; its exit code, or 128+N when killed by signal N."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
