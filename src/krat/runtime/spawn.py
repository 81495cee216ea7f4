"""Forking the container's first process (or an exec'd one) and talking to it while it starts.

    caller ──fork──> intermediate: stdio, join cgroup, user ns (caller writes the id maps),
                     unshare/setns the other namespaces, fork ──> init (pid 1): INIT_STEPS, execve
                     reports the init's pid, exits

A new pid namespace applies to children only, hence the second fork; the caller makes
itself a child subreaper so the init is re-parented to it and it can wait for the exit
status. Both children write JSON lines on one sync pipe: {"pid"}, {"userns"},
{"ready"} or {"error", "code"}; errors become krat.errors classes in the caller.

Without user namespaces (Launch.direct) the intermediate is not needed: the caller
itself enters the pid namespace for its children (unshare or setns CLONE_NEWPID, which
does not move the caller), forks the init, and returns to its own pid namespace at once;
the init does the rest (stdio, cgroup, the other namespaces). One fork of a Python
process less (~1 ms and more on a busy host). A user namespace must own the namespaces
made after it, so it keeps the intermediate, as does exec.
"""

from __future__ import annotations

import os
import sys

from krat.errors import CommandCannotRun, CommandNotFound, ContainerCommandError, Internal, InvalidArgument, KratError
from krat.oci import jsoncodec as json
from krat.oci.records import field, record
from krat.runtime import syscalls as sc
from krat.runtime.cgroups import join_self
from krat.runtime.init import InitContext, exec_process, report, run_steps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from krat.oci.linux import IdMapping


_DEBUG = False


class _Sealed:
    """A finder that refuses imports, first on sys.meta_path of a child that has joined a
    container's mount namespace: the files an import would read there are the container's
    (a module planted in it would run with the runtime's privileges). What the steps use is
    loaded before the fork (see init.py); a built-in module reads no file and still loads."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name in sys.builtin_module_names:
            return None
        raise ImportError(f"{name} cannot be imported inside the container: load it before the fork", name=name)


def seal_imports(join: list[tuple[str, int]]) -> None:
    """Refuse imports from here on in this process if it has joined a mount namespace (setns)."""
    if any(kind == "mount" for kind, _ in join):
        sys.meta_path.insert(0, _Sealed)


@record
class Launch:
    """What the intermediate process does before forking the init."""

    stdio: tuple[int, int, int] | None
    cgroup_dirs: list[str]
    unshare_flags: int = 0
    join: list[tuple[str, int]] = field(default_factory=list)   # (ns type, open fd) to setns
    new_user: bool = False
    uid_mappings: tuple[IdMapping, ...] = ()
    gid_mappings: tuple[IdMapping, ...] = ()
    direct: bool = False   # no intermediate (see the module's docstring); never with a user namespace


def _dup_stdio(stdio: tuple[int, int, int]) -> None:
    high = [os.dup(fd) for fd in stdio]  # survive overlaps such as stdio=(1, 0, 2)
    for target, fd in enumerate(high):
        os.dup2(fd, target)
        os.close(fd)


def _enter(launch: Launch, ctx: InitContext) -> None:
    """The first steps of a fresh fork (the intermediate, or a direct init)."""
    # Until execve, /proc/PID/exe of these processes is the host's Python: not dumpable means a
    # process in the container cannot open it to overwrite it (CVE-2019-5736). execve resets it.
    ctx.sys.prctl(sc.PR_SET_DUMPABLE, 0)
    if launch.stdio is not None and not ctx.spec.process.terminal:
        _dup_stdio(launch.stdio)
    join_self(launch.cgroup_dirs)  # this process has one thread: it was just forked


def _intermediate(launch: Launch, ctx: InitContext, steps: list[Callable[[InitContext], None]],
                  reply: int) -> None:
    _enter(launch, ctx)
    for kind, fd in launch.join:
        if kind == "user":
            ctx.sys.setns(fd, sc.CLONE_NEWUSER)
    if launch.new_user:
        ctx.sys.unshare(sc.CLONE_NEWUSER)
        report(ctx, {"userns": os.getpid()})
        if os.read(reply, 16) != b"ok":
            os._exit(1)
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    for kind, fd in launch.join:
        if kind != "user":
            ctx.sys.setns(fd, sc.NAMESPACE_FLAGS[kind])
    seal_imports(launch.join)
    if launch.unshare_flags:
        ctx.sys.unshare(launch.unshare_flags)
    pid = os.fork()
    if pid == 0:
        _child(ctx, steps)
    report(ctx, {"pid": pid})


def _child(ctx: InitContext, steps: list[Callable[[InitContext], None]]) -> None:
    try:
        run_steps(ctx, steps)
        exec_process(ctx)
    except BaseException as err:  # noqa: BLE001 - a forked child must never return to the caller
        _report_error(ctx, err)
    os._exit(1)


def _report_error(ctx: InitContext, err: BaseException) -> None:
    if isinstance(err, ContainerCommandError):
        message, code = err.message, err.exit_code
    elif isinstance(err, KratError):
        message, code = err.message, 125
    elif isinstance(err, OSError):
        message, code = (f"{err.strerror}" + (f": {err.filename}" if err.filename else "")), 125
    else:
        message, code = f"{type(err).__name__}: {err}", 125
    trace = ""
    if _DEBUG:
        import traceback  # preloaded by spawn() when debugging: nothing can be imported after pivot_root

        trace = "".join(traceback.format_exception(err))
    if ctx.ready:
        os.write(2, f"krat-runtime: {message}\n{trace}".encode())
        return
    try:
        report(ctx, {"error": message, "code": code, "trace": trace})
    except OSError:
        pass


def write_id_maps(pid: int, launch: Launch) -> None:
    def text(maps: tuple[IdMapping, ...]) -> str:
        return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps)

    if launch.gid_mappings:
        with open(f"/proc/{pid}/gid_map", "w") as f:
            f.write(text(launch.gid_mappings))
    if launch.uid_mappings:
        with open(f"/proc/{pid}/uid_map", "w") as f:
            f.write(text(launch.uid_mappings))


def spawn(launch: Launch, ctx: InitContext, steps: list[Callable[[InitContext], None]],
          on_hooks: Callable[[int], bytes] | None = None) -> int:
    """Start the process; return its pid once it is ready (waiting for start, or exec'd)."""
    global _DEBUG
    _DEBUG = bool(os.environ.get("KRAT_DEBUG"))
    if _DEBUG:
        import traceback  # noqa: F401
    sc.LinuxSyscalls().prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    if launch.direct:
        return _spawn_direct(launch, ctx, steps, on_hooks)
    sync_r, sync_w = os.pipe()
    reply_r, reply_w = os.pipe()
    ctx.sync = sync_w
    ctx.reply = reply_r
    first = os.fork()
    if first == 0:
        try:
            os.close(sync_r)
            os.close(reply_w)
            _intermediate(launch, ctx, steps, reply_r)
        except BaseException as err:  # noqa: BLE001
            _report_error(ctx, err)
            os._exit(1)
        os._exit(0)
    os.close(sync_w)
    os.close(reply_r)
    try:
        pid, error = _converse(sync_r, reply_w, launch, on_hooks)
    finally:
        os.close(sync_r)
        os.close(reply_w)
        os.waitpid(first, 0)
    if error is not None:
        if pid:
            kill_and_reap(pid)  # re-parented to us (subreaper) now that the intermediate is gone
        raise error
    return pid


def _spawn_direct(launch: Launch, ctx: InitContext, steps: list[Callable[[InitContext], None]],
                  on_hooks: Callable[[int], bytes] | None) -> int:
    """spawn without the intermediate: fork the init into the pid namespace from here."""
    pid_ns = [fd for kind, fd in launch.join if kind == "pid"]
    new_pid = bool(launch.unshare_flags & sc.CLONE_NEWPID)
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC) if new_pid or pid_ns else -1
    sync_r, sync_w = os.pipe()
    reply_r, reply_w = os.pipe()
    ctx.sync = sync_w
    ctx.reply = reply_r
    pid = 0
    try:
        try:
            if pid_ns:
                ctx.sys.setns(pid_ns[0], sc.CLONE_NEWPID)
            elif new_pid:
                ctx.sys.unshare(sc.CLONE_NEWPID)  # for the next child only: this process stays
            pid = os.fork()
            if pid == 0:
                _direct_child(launch, ctx, steps, sync_r, reply_w)
        finally:
            if own >= 0:
                # Back to our own pid namespace for whatever this process forks later (hooks);
                # if that failed, later children would land in the container's.
                ctx.sys.setns(own, sc.CLONE_NEWPID)
    except OSError as err:
        if pid:
            kill_and_reap(pid)
        message = err.strerror + (f": {err.filename}" if err.filename else "")
        raise _error({"error": message, "code": 125}) from None
    finally:
        if own >= 0:
            os.close(own)
        os.close(sync_w)
        os.close(reply_r)
    try:
        got, error = _converse(sync_r, reply_w, launch, on_hooks, pid)
    finally:
        os.close(sync_r)
        os.close(reply_w)
    if error is not None:
        kill_and_reap(pid)
        raise error
    return got


def _direct_child(launch: Launch, ctx: InitContext, steps: list[Callable[[InitContext], None]],
                  sync_r: int, reply_w: int) -> None:
    """The init forked by _spawn_direct: what the intermediate did, then the init's steps."""
    try:
        os.close(sync_r)
        os.close(reply_w)
        _enter(launch, ctx)
        for kind, fd in launch.join:
            if kind != "pid":
                ctx.sys.setns(fd, sc.NAMESPACE_FLAGS[kind])
        seal_imports(launch.join)
        if launch.unshare_flags & ~sc.CLONE_NEWPID:
            ctx.sys.unshare(launch.unshare_flags & ~sc.CLONE_NEWPID)
    except BaseException as err:  # noqa: BLE001 - a forked child must never return to the caller
        _report_error(ctx, err)
        os._exit(1)
    _child(ctx, steps)


def _converse(sync_r: int, reply_w: int, launch: Launch,
              on_hooks: Callable[[int], bytes] | None, pid: int = 0) -> tuple[int, KratError | None]:
    """Read the children's messages until the init is ready (the pid and ready may come in any order;
    pid: known already when this process forked the init itself)."""
    ready, hooks_asked, error = False, False, None
    with os.fdopen(os.dup(sync_r), "rb") as stream:
        for line in stream:
            msg = json.loads(line)
            if "userns" in msg:
                write_id_maps(msg["userns"], launch)
                os.write(reply_w, b"ok")
            elif "pid" in msg:
                pid = msg["pid"]
            elif "hooks" in msg:
                hooks_asked = True
            elif "ready" in msg:
                ready = True
            elif "error" in msg:
                error = _error(msg)  # read on to EOF: the pid may still come, to be reaped
            if hooks_asked and pid and error is None:
                hooks_asked = False
                error = _answer_hooks(pid, reply_w, on_hooks)
            if pid and ready and error is None:
                return pid, None
    return pid, error or Internal("the container's init process died before it was ready")


def _answer_hooks(pid: int, reply_w: int, on_hooks: Callable[[int], bytes] | None) -> KratError | None:
    """Run the caller's hooks (prestart, createRuntime); the init waits for "ok <state>" or "fail"."""
    try:
        state = on_hooks(pid) if on_hooks else b"{}"
    except KratError as err:
        os.write(reply_w, b"fail\n")
        return err
    os.write(reply_w, b"ok " + state + b"\n")
    return None


def kill_and_reap(pid: int) -> None:
    """SIGKILL a child of ours and wait for it (gone already: fine)."""
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _error(msg: dict) -> KratError:
    text = msg["error"] + (f"\n{msg['trace']}" if msg.get("trace") else "")
    if msg.get("code") == 127:
        return CommandNotFound(text)
    if msg.get("code") == 126:
        return CommandCannotRun(text)
    return InvalidArgument(f"cannot start the container: {text}")


def spawn_joined(launch: Launch, ctx: InitContext, steps: list[Callable[[InitContext], None]]) -> int:
    """exec's spawn for a container whose user namespace is ours: one fork instead of two.

    setns(CLONE_NEWPID) changes only the namespace of the caller's later children, so the
    caller points it at the container's, forks, and points it back at its own: the child
    is born in the container's pid namespace and joins the cgroup and the other namespaces
    itself, with no intermediate process to fork, report and reap (~1 ms of `krat exec`).
    A user namespace to join needs spawn(): it must be entered before the others, in a child."""
    global _DEBUG
    _DEBUG = bool(os.environ.get("KRAT_DEBUG"))
    if _DEBUG:
        import traceback  # noqa: F401
    pid_fd = next((fd for kind, fd in launch.join if kind == "pid"), -1)
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC) if pid_fd >= 0 else -1
    sync_r, sync_w = os.pipe()
    ctx.sync = sync_w
    try:
        if pid_fd >= 0:
            ctx.sys.setns(pid_fd, sc.CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:
            _joined_child(launch, ctx, steps, sync_r)
    except OSError as err:  # as the intermediate would have reported it
        os.close(sync_r)
        raise InvalidArgument(f"cannot start the container: {err.strerror}") from err
    finally:
        if own >= 0:
            ctx.sys.setns(own, sc.CLONE_NEWPID)
            os.close(own)
        os.close(sync_w)
    try:
        error = _await_ready(sync_r)
    finally:
        os.close(sync_r)
    if error is not None:
        kill_and_reap(pid)
        raise error
    return pid


def _joined_child(launch: Launch, ctx: InitContext, steps: list[Callable[[InitContext], None]], sync_r: int) -> None:
    try:
        os.close(sync_r)
        ctx.sys.prctl(sc.PR_SET_DUMPABLE, 0)  # as _intermediate (CVE-2019-5736)
        if launch.stdio is not None and not ctx.spec.process.terminal:
            _dup_stdio(launch.stdio)
        join_self(launch.cgroup_dirs)
        for kind, fd in launch.join:  # the caller sorted mount last
            if kind != "pid":
                ctx.sys.setns(fd, sc.NAMESPACE_FLAGS[kind])
        seal_imports(launch.join)
    except BaseException as err:  # noqa: BLE001 - a forked child must never return to the caller
        _report_error(ctx, err)
        os._exit(1)
    _child(ctx, steps)


def _await_ready(sync_r: int) -> KratError | None:
    with os.fdopen(os.dup(sync_r), "rb") as stream:
        for line in stream:
            msg = json.loads(line)
            if "ready" in msg:
                return None
            if "error" in msg:
                return _error(msg)
    return Internal("the process died before it was ready")
