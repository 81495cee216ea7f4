"""create: from a bundle to an init process waiting on exec.fifo (the costly path, kept apart
so the other operations do not import the init machinery)."""

from __future__ import annotations

import os

from krat.errors import InvalidArgument
from krat.oci import jsoncodec as json
from krat.oci.runtime import ContainerStatus, Spec, parse_spec
from krat.runtime import earlyinit
from krat.runtime import mounts  # noqa: F401  (for the init's steps, which import nothing; see init.py)
from krat.runtime import syscalls as sc
from krat.runtime.cgroups import Cgroup, cgroup_path, configured_root, hierarchies
from krat.runtime.container import _kill_cgroup, _now, arm, disarm
from krat.runtime.init import INIT_STEPS, InitContext, process_context
from krat.runtime.records import DEFAULT_ROOT, SECCOMP_BPF, Record, Store, proc_start, read_file, write_file
from krat.runtime.records import write_pid_file as _write_pid_file
from krat.runtime.spawn import Launch, spawn

S = ContainerStatus


def _prepare_context(spec: Spec, rootfs: str, cgroup: Cgroup, console_socket: str | None,
                     connect: bool = True, with_filter: bool = True) -> InitContext:
    ctx = process_context(spec, rootfs, console_socket, connect)
    if spec.process.rlimits:
        import resource  # noqa: F401  (set_rlimits runs after pivot_root; ~0.25 ms no other spec pays)
    if spec.linux.seccomp is not None and with_filter:
        from krat.runtime import seccomp

        try:
            ctx.filter = seccomp.Filter(spec.linux.seccomp, seccomp.default_cache_dir())
        except BaseException:
            if ctx.console is not None:
                ctx.console.close()
            raise
    ctx.cgroup_dirs = dict(cgroup.dirs)
    ctx.hierarchies = [h for h in hierarchies() if h.controllers] if not cgroup.v2 else []
    ctx.cgroupns = spec.linux.namespace("cgroup") is not None
    return ctx


def enter_cgroup(container_id: str, cgroups_path: str) -> bool:
    """Create the container's cgroup and move the calling (single-threaded) process into it
    ahead of create(), whose processes are then born there instead of being moved: on v2 a
    move waits for an RCU grace period after a quiet spell (10-20 ms; v1 avoids it, see
    cgroups.join_self), which a caller that does this early overlaps with other work. False
    (and nothing left) if that failed: create() then does it all and reports the reason.
    Undo with leave_cgroup if create() never comes."""
    try:
        cgroup = Cgroup(cgroup_path(cgroups_path, container_id), configured_root())
    except InvalidArgument:
        return False   # create() names the bad setting
    global _entered
    try:
        cgroup.create()
        cgroup.join(os.getpid())
    except OSError:
        _leave(cgroup)
        return False
    _entered = (cgroup, os.getpid())
    return True


def make_cgroup(container_id: str, cgroups_path: str) -> Cgroup | None:
    """Create the container's cgroup ahead of create(), for an init forked ahead that moves
    itself in (earlyinit.fork_early's join), the calling process staying outside: an early
    monitor that creates its container itself outlives it. None (and nothing left) if that
    failed: create() then does it all and reports the reason. Undo with leave_cgroup if
    create() never comes."""
    try:
        cgroup = Cgroup(cgroup_path(cgroups_path, container_id), configured_root())
    except InvalidArgument:
        return None   # create() names the bad setting
    try:
        cgroup.create()
    except OSError:
        try:
            cgroup.destroy()
        except OSError:
            pass
        return None
    global _made
    _made = (cgroup, os.getpid())
    return cgroup


# The cgroup make_cgroup made in this process (pid), for the init forked ahead.
_made: tuple[Cgroup, int] | None = None


def made_cgroup() -> Cgroup | None:
    return _made[0] if _made is not None else None


def _made_here(cgroup: Cgroup) -> bool:
    return _ours(_made, cgroup)


def _ours(entry: tuple[Cgroup, int] | None, cgroup: Cgroup) -> bool:
    """entry (_made's or _entered's) is cgroup, and this process' (not the one that forked us)."""
    return entry is not None and (entry[0].path, entry[0].root, entry[1]) == (cgroup.path, cgroup.root, os.getpid())


def _forget_made() -> None:
    global _made
    _made = None


def entered_by_init(cgroup: Cgroup) -> None:
    """In an init forked ahead, once it has moved itself into the cgroup its creator made: as
    if forked in it (entered_cgroup)."""
    global _entered
    _entered = (cgroup, os.getpid())


# The cgroup enter_cgroup moved this process (pid) into: create() then knows it is there
# without reading each hierarchy's cgroup.procs, and the early init, forked in it, takes it
# as it is (entered_cgroup).
_entered: tuple[Cgroup, int] | None = None


def entered_cgroup() -> Cgroup | None:
    """The cgroup enter_cgroup made and entered, in this process or the one that forked it."""
    return _entered[0] if _entered is not None else None


def _joined(cgroup: Cgroup) -> bool:
    return _ours(_entered, cgroup)


def leave_cgroup(container_id: str, cgroups_path: str) -> None:
    """Undo enter_cgroup or make_cgroup: out of the cgroup (if in it), and remove it."""
    _forget_made()
    _leave(Cgroup(cgroup_path(cgroups_path, container_id), configured_root()))


def _leave(cgroup: Cgroup, destroy: bool = True) -> None:
    """Take the calling process out of `cgroup` (if in it); then remove the cgroup."""
    global _entered
    if cgroup.holds(os.getpid()):
        cgroup.leave()
    if _joined(cgroup):
        _entered = None
    if destroy:
        try:
            cgroup.destroy()
        except OSError:
            pass


def _launch(spec: Spec, cgroup: Cgroup, stdio: tuple[int, int, int] | None, joined: bool = False) -> Launch:
    launch = Launch(stdio=stdio, cgroup_dirs=[] if joined else list(cgroup.dirs.values()),
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
    # Without a user namespace the init is forked straight into its pid namespace (spawn.py).
    # A time namespace, like a pid one, applies to children only: it keeps the intermediate.
    launch.direct = not launch.new_user and not launch.unshare_flags & sc.CLONE_NEWTIME and \
        all(kind not in ("user", "time") for kind, _ in launch.join)
    return launch


def create(container_id: str, bundle: str, state_root: str = DEFAULT_ROOT,
           stdio: tuple[int, int, int] | None = (0, 1, 2), console_socket: str | None = None,
           pid_file: str | None = None, preserve_fds: int = 0, start: bool = False) -> int:
    """Set the container up and leave its process waiting for `start`; return its pid.
    start: this process calls start() right after (create and start as one operation): the
    barrier is armed (see container.arm), so the init does not wait for start to reach it."""
    bundle = os.path.abspath(bundle)
    path = os.path.join(bundle, "config.json")
    raw = _read_config(path)
    # An init forked ahead (earlyinit) starts on its part now, beside this process's.
    early = earlyinit.claim(raw, stdio, container_id, bundle, console_socket) if not preserve_fds else None
    try:
        return _create(container_id, bundle, state_root, stdio, console_socket, pid_file, preserve_fds,
                       parse_spec(raw, path), raw, early, start)
    except BaseException:
        if early is not None:
            early.release()
        raise


def _read_config(path: str) -> bytes:
    try:
        return read_file(path)
    except FileNotFoundError as err:
        raise InvalidArgument(f"{path}: no such file") from err
    except OSError as err:
        raise InvalidArgument(f"{path}: {err}") from err


def _create(container_id: str, bundle: str, state_root: str, stdio: tuple[int, int, int] | None,
            console_socket: str | None, pid_file: str | None, preserve_fds: int, spec: Spec, raw: bytes,
            early: earlyinit.EarlyInit | None, start: bool = False) -> int:
    rootfs = os.path.normpath(os.path.join(bundle, spec.root.path))
    if not os.path.isdir(rootfs):
        raise InvalidArgument(f"root.path: {rootfs} is not a directory")
    store = Store(state_root)
    record = Record(container_id, bundle, rootfs, created=_now(),
                    cgroup=cgroup_path(spec.linux.cgroups_path, container_id), cgroup_root=configured_root(),
                    annotations=dict(spec.annotations),
                    hooks={k: [h.to_json() for h in spec.hooks_of(k)] for k in ("poststart", "poststop")
                           if spec.hooks_of(k)})
    directory = store.reserve(record)
    cgroup = Cgroup(record.cgroup, record.cgroup_root)
    joined = _joined(cgroup)
    made = _made_here(cgroup)   # by make_cgroup, for the init forked ahead (in it; we are not)
    if made:
        _forget_made()   # once: a later create in this process (a restart) makes its own
    if early is not None and not ((joined or made and early.alive())
                                  and earlyinit.serves(spec, earlyinit.pids_limit_ok(spec))):
        early.release()   # it saw the same and has left
        early = None
    try:
        # The document as read and checked (exec and `krat-runtime exec` read it again later).
        write_file(os.path.join(directory, "config.json"), raw)
        if joined and not earlyinit.pids_limit_ok(spec):
            _leave(cgroup)  # this process and the intermediate would count against a tiny pids limit
            joined = False
        if not joined and not made:
            cgroup.create()   # else enter_cgroup or make_cgroup made it
        cgroup.apply(spec.linux.resources)
        if early is not None:
            earlyinit.cgroup_ready(early)   # it makes its devices while this process goes on
        ctx = _prepare_context(spec, rootfs, cgroup, console_socket, connect=early is None)
        if ctx.filter is not None:
            write_file(os.path.join(directory, SECCOMP_BPF), ctx.filter.bpf)
        ctx.preserve_fds = preserve_fds
        fifo = _make_fifo(directory, spec)
        if start:
            arm(store, container_id)
        if early is None:
            pid = _spawn_init(spec, ctx, cgroup, stdio, fifo, record, joined)
            record.pid, record.pid_start, record.status = pid, proc_start(pid) or "", S.CREATED.value
            store.save(record)
        else:
            # The init's pid is known already: its state is written while it finishes its
            # steps, and made the state (a rename) once it is ready.
            record.pid, record.pid_start, record.status = early.pid, proc_start(early.pid) or "", S.CREATED.value
            pid = _spawn_init(spec, ctx, cgroup, stdio, fifo, record, joined, early, lambda: store.stage(record))
            store.publish(container_id)
        if pid_file:
            _write_pid_file(pid_file, pid)
        return pid
    except BaseException:
        disarm(store, container_id)
        if early is not None:
            early.release()
        if joined:
            _leave(cgroup, destroy=False)
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
                fifo: str, record: Record, joined: bool = False, early: earlyinit.EarlyInit | None = None,
                meanwhile=None) -> int:
    ctx.fifo = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
    launch = Launch(stdio=None, cgroup_dirs=[])

    def create_hooks(pid: int) -> bytes:
        from krat.runtime import hooks

        state = json.dumps(hooks.state_document(record.id, "creating", pid, record.bundle,
                                                record.annotations)).encode()
        for kind in ("prestart", "createRuntime"):
            hooks.run_hooks(kind, spec.hooks_of(kind), state)
        return state

    if early is None and has_hooks(spec):
        from krat.runtime import hooks  # noqa: F401  (for the init's steps, as mounts: see init.py)
    try:
        if early is not None:
            return earlyinit.finish(early, ctx.fifo, ctx.filter.bpf if ctx.filter is not None else b"", create_hooks,
                                    meanwhile)
        launch = _launch(spec, cgroup, stdio, joined)
        return spawn(launch, ctx, INIT_STEPS, create_hooks)
    finally:
        os.close(ctx.fifo)
        if ctx.console is not None:
            ctx.console.close()
        for _, fd in launch.join:
            os.close(fd)


def has_hooks(spec: Spec) -> bool:
    """Whether the spec has hooks the init takes part in (createContainer and startContainer
    run in it; prestart and createRuntime make it wait): then the init's steps need
    krat.runtime.hooks loaded before it pivots. Few specs have any: the module is not
    loaded ahead (the monitor's runtime child imports this module on its way to "ready")."""
    return any(spec.hooks_of(k) for k in ("prestart", "createRuntime", "createContainer", "startContainer"))


def _host_id(mappings, container_id: int) -> int:
    for m in mappings:
        if m.container_id <= container_id < m.container_id + m.size:
            return m.host_id + container_id - m.container_id
    return container_id
