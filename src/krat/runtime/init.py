"""The container's init: what the first process does between fork and execve.

`run_init` is a short loop over INIT_STEPS, each a small function of an InitContext
whose kernel calls go through ctx.sys (a Syscalls). The order matters and follows runc:
mounts before pivot_root, masks after it, seccomp before dropping capabilities unless
no_new_privs is asked (then it is the very last step, so it may forbid capset/setuid).
"""

from __future__ import annotations

import _signal as signal  # not `signal`: it builds enums (imports enum)
import _struct as struct  # struct.py only re-exports it
import fcntl
import os

from krat.errors import InvalidArgument
from krat.oci import jsoncodec as json
from krat.oci.records import field, record
from krat.runtime import capabilities as caps
from krat.runtime import command
from krat.runtime import syscalls as sc
from krat.runtime.cgroups import Hierarchy

# mounts, hooks and resource are imported where a step uses them, for the steps that build a
# container (creation.py loads them before it forks, hooks and resource only for a spec with
# hooks or rlimits; an early init loads hooks itself, see earlyinit._become) or
# an optional part of an exec (tenant.py loads them when the process asks for it): once a child
# has pivoted into the container's root or joined its mount namespace, an import would read the
# container's files (a child that joined one refuses it: spawn.seal_imports). An exec's usual
# steps need none of the three.

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from krat.oci.runtime import Spec
    from krat.runtime import mounts

RLIMITS = {"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
           "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
           "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
           "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15}


@record
class InitContext:
    """What the init steps share: the spec, the kernel seam, and fds from the caller."""

    spec: Spec
    rootfs: str
    sys: sc.Syscalls
    sync: int = -1                       # pipe to the caller: JSON lines
    fifo: int = -1                       # O_PATH fd of exec.fifo; -1 for exec (no start barrier)
    console: Any = None                  # connected socket for the pty master, when terminal
    filter: Any = None                   # a compiled seccomp.Filter
    cap_masks: caps.CapMasks | None = None
    cap_top: int = 40
    cgroup_dirs: dict[str, str] = field(default_factory=dict)
    hierarchies: list[Hierarchy] = field(default_factory=list)
    cgroupns: bool = False
    slave: str = ""                      # the pty slave, as a path inside the container
    executable: str = ""
    reply: int = -1                      # pipe from the caller (id maps done, hook state)
    hook_state: dict | None = None       # the state document hooks get, from the caller
    preserve_fds: int = 0                # --preserve-fds: 3..3+N-1 stay open in the container
    ready: bool = False                  # the caller stopped listening: later errors go to stderr


def process_context(spec: Spec, rootfs: str, console_socket: str | None, connect: bool = True) -> InitContext:
    """What the init steps need for spec.process (capabilities, console); create and exec.
    connect=False: check the console settings, but let the init connect (earlyinit)."""
    ctx = InitContext(spec=spec, rootfs=rootfs, sys=sc.LinuxSyscalls())
    if spec.process.capabilities is not None:
        ctx.cap_masks = caps.masks(spec.process.capabilities, caps.held())
        ctx.cap_top = caps.last_cap()
    if spec.process.terminal:
        if not console_socket:
            raise InvalidArgument("process.terminal is true: --console-socket is required")
        if connect:
            ctx.console = connect_console(console_socket)
    elif console_socket:
        raise InvalidArgument("--console-socket needs process.terminal: true")
    return ctx


def connect_console(path: str):
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as err:
        sock.close()
        raise InvalidArgument(f"--console-socket {path}: {err.strerror}") from err
    return sock


READY_LINE = b'{"ready": true}\n'   # json.dumps({"ready": True}): the line exec_process reports


def report(ctx: InitContext, message: dict) -> None:
    if ctx.sync >= 0:
        os.write(ctx.sync, (json.dumps(message) + "\n").encode())


# --- before pivot_root --------------------------------------------------------------

def make_root_private(ctx: InitContext) -> None:
    """Nothing mounted in here may propagate back to the host."""
    ctx.sys.mount("", "/", "", sc.MS_REC | sc.MS_PRIVATE)


def bind_rootfs(ctx: InitContext) -> None:
    ctx.sys.mount(ctx.rootfs, ctx.rootfs, "", sc.MS_BIND | sc.MS_REC)


def mount_all(ctx: InitContext) -> None:
    from krat.runtime import mounts

    for m in ctx.spec.mounts:
        plan = mounts.plan_mount(m)
        if m.type == "cgroup":
            mount_cgroup(ctx, plan)
        else:
            mounts.do_mount(ctx.sys, ctx.rootfs, plan)


def mount_cgroup(ctx: InitContext, plan: mounts.MountPlan) -> None:
    from krat.runtime import mounts

    target = mounts.secure_join(ctx.rootfs, plan.destination)
    ctx.sys.mkdir(target)
    flags = plan.flags & (sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    if not ctx.hierarchies:  # cgroup v2: the namespace shows only the container's subtree
        if ctx.cgroupns:
            ctx.sys.mount("cgroup2", target, "cgroup2", flags)
        else:
            ctx.sys.mount(ctx.cgroup_dirs[""], target, "", sc.MS_BIND | sc.MS_REC)
            ctx.sys.mount("", target, "", sc.MS_BIND | sc.MS_REMOUNT | flags)
        return
    ctx.sys.mount("tmpfs", target, "tmpfs", flags & ~sc.MS_RDONLY, "mode=755")
    binds = []
    for h in ctx.hierarchies:
        if not h.controllers:
            continue
        name = os.path.basename(h.mountpoint)
        sub = os.path.join(target, name)
        ctx.sys.mkdir(sub)
        if ctx.cgroupns:
            ctx.sys.mount("cgroup", sub, "cgroup", flags, h.options)
        else:
            host = ctx.cgroup_dirs.get(",".join(h.controllers), h.mountpoint)
            ctx.sys.mount(host, sub, "", sc.MS_BIND | sc.MS_REC)
            binds.append(sub)
    if binds:
        _set_bind_flags(ctx, target, binds, flags)
    if flags & sc.MS_RDONLY:
        ctx.sys.mount("", target, "", sc.MS_REMOUNT | flags, "mode=755")


def _set_bind_flags(ctx: InitContext, target: str, binds: list[str], flags: int) -> None:
    """The hierarchies' binds get the mount's flags (read-only, ...), which a bind ignores:
    one mount_setattr over the tmpfs at target and everything below it (its own flags are
    the same, but for read-only, which its remount sets next) instead of a remount per bind
    (9 on a usual v1 host); a remount each where the kernel has no mount_setattr."""
    try:
        ctx.sys.mount_setattr(target, flags, ~flags, True)   # recursive
        return
    except OSError:
        pass
    for sub in binds:
        ctx.sys.mount("", sub, "", sc.MS_BIND | sc.MS_REMOUNT | flags)


def make_devices(ctx: InitContext) -> None:
    from krat.runtime import mounts

    has_dev = any(m.destination == "/dev" for m in ctx.spec.mounts)
    mounts.make_devices(ctx.sys, ctx.rootfs, ctx.spec.linux.devices, has_dev)
    if has_dev:
        mounts.make_dev_symlinks(ctx.sys, ctx.rootfs)


def open_console(ctx: InitContext) -> None:
    """A pty from the container's own devpts; its master goes to --console-socket."""
    if not ctx.spec.process.terminal:
        return
    import socket  # only with a terminal (both loaded by the caller: see the top of this module)

    from krat.runtime import mounts

    ptmx = mounts.secure_join(ctx.rootfs, "/dev/pts/ptmx")
    inside = os.path.exists(ptmx)
    master = os.open(ptmx if inside else "/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, sc.TIOCSPTLCK, struct.pack("i", 0))
    number = struct.unpack("I", fcntl.ioctl(master, sc.TIOCGPTN, struct.pack("I", 0)))[0]
    ctx.slave = f"/dev/pts/{number}" if inside else os.ttyname(master).replace("ptmx", f"pts/{number}")
    if ctx.spec.process.console_size:
        height, width = ctx.spec.process.console_size
        fcntl.ioctl(master, sc.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    if inside and ctx.rootfs != "/":  # exec joins a container whose /dev/console exists
        console = mounts.secure_join(ctx.rootfs, "/dev/console")
        if not os.path.exists(console):
            ctx.sys.touch(console)
        ctx.sys.mount(ctx.rootfs + ctx.slave, console, "", sc.MS_BIND)
    if ctx.console is not None:
        socket.send_fds(ctx.console, [b"/dev/ptmx"], [master])
        ctx.console.close()
    os.close(master)


def run_create_hooks(ctx: InitContext) -> None:
    """Mounts are in place: the caller runs prestart/createRuntime, then createContainer runs here."""
    spec = ctx.spec
    if not any(spec.hooks_of(k) for k in ("prestart", "createRuntime", "createContainer", "startContainer")):
        return
    report(ctx, {"hooks": "create"})
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(ctx.reply, 65536)
        if not chunk:
            break
        line += chunk
    if not line.startswith(b"ok "):
        os._exit(1)  # the caller has the hook's error already
    ctx.hook_state = json.loads(line[3:])
    from krat.runtime import hooks

    hooks.run_hooks("createContainer", spec.hooks_of("createContainer"), json.dumps(ctx.hook_state).encode())


def pivot_root(ctx: InitContext) -> None:
    """pivot_root(".", ".") then detach the old root stacked on top (runc's way; no temp dir)."""
    ctx.sys.chdir(ctx.rootfs)
    ctx.sys.pivot_root(".", ".")
    ctx.sys.mount("", ".", "", sc.MS_SLAVE | sc.MS_REC)
    ctx.sys.umount(".", sc.MNT_DETACH)
    ctx.sys.chdir("/")


BEFORE_PIVOT: list[Callable[[InitContext], None]] = [make_root_private, bind_rootfs, mount_all, make_devices,
                                                     open_console, run_create_hooks, pivot_root]


# --- after pivot_root: paths are the container's own ------------------------------------

def set_propagation(ctx: InitContext) -> None:
    prop = ctx.spec.linux.rootfs_propagation
    if prop:
        from krat.runtime import mounts

        ctx.sys.mount("", "/", "", mounts.PROPAGATION[prop])


def write_sysctls(ctx: InitContext) -> None:
    for key, value in ctx.spec.linux.sysctl:
        ctx.sys.write_file("/proc/sys/" + key.replace(".", "/"), value)


def mask_paths(ctx: InitContext) -> None:
    from krat.runtime import mounts

    for path in ctx.spec.linux.masked_paths:
        mounts.mask_path(ctx.sys, path)


def readonly_paths(ctx: InitContext) -> None:
    from krat.runtime import mounts

    for path in ctx.spec.linux.readonly_paths:
        mounts.readonly_path(ctx.sys, path)


def readonly_root(ctx: InitContext) -> None:
    if ctx.spec.root.readonly:
        from krat.runtime import mounts

        keep = os.statvfs("/").f_flag & mounts.KEEP_ON_REMOUNT
        ctx.sys.mount("", "/", "", sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | keep)


def loopback_up(ctx: InitContext) -> None:
    """A network namespace the runtime made itself (no path) gets `lo` up, as runc does:
    `--network none` still has a working 127.0.0.1."""
    if any(ns.type == "network" and not ns.path for ns in ctx.spec.linux.namespaces):
        ctx.sys.link_up("lo")


def set_hostname(ctx: InitContext) -> None:
    if ctx.spec.hostname:
        ctx.sys.sethostname(ctx.spec.hostname)


def rlimit_values(soft: int, hard: int, current_hard: int) -> tuple[int, int]:
    """Never above the current hard limit: raising it needs CAP_SYS_RESOURCE, which root may lack."""
    import resource

    if current_hard != resource.RLIM_INFINITY and (hard < 0 or hard > current_hard):
        hard = current_hard
    if hard >= 0 and (soft < 0 or soft > hard):
        soft = hard
    return soft, hard


def set_rlimits(ctx: InitContext) -> None:
    if not ctx.spec.process.rlimits:
        return
    import resource

    for r in ctx.spec.process.rlimits:
        if r.type not in RLIMITS:
            raise ValueError(f"process.rlimits: unknown rlimit {r.type}")
        number = RLIMITS[r.type]
        soft, hard = rlimit_values(r.soft, r.hard, resource.getrlimit(number)[1])
        ctx.sys.setrlimit(number, soft, hard)


def set_oom_score_adj(ctx: InitContext) -> None:
    if ctx.spec.process.oom_score_adj is not None:
        ctx.sys.write_file("/proc/self/oom_score_adj", str(ctx.spec.process.oom_score_adj))


def attach_console(ctx: InitContext) -> None:
    """The pty slave becomes the controlling terminal and stdio of a new session."""
    if not ctx.spec.process.terminal:
        return
    os.setsid()
    fd = os.open(ctx.slave, os.O_RDWR)
    fcntl.ioctl(fd, sc.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)


def seccomp_before_caps(ctx: InitContext) -> None:
    if ctx.filter is not None and not ctx.spec.process.no_new_privileges:
        ctx.filter.load()


def drop_bounding(ctx: InitContext) -> None:
    if ctx.cap_masks is not None:
        caps.drop_bounding(ctx.sys, ctx.cap_masks, ctx.cap_top)


def switch_user(ctx: InitContext) -> None:
    user = ctx.spec.process.user
    os.umask(user.umask if user.umask is not None else 0o022)  # not the caller's: runc's default
    if user.uid == 0:   # root stays root: no capability is lost, keep-caps has nothing to keep
        ctx.sys.set_user(user.uid, user.gid, user.additional_gids)
        return
    ctx.sys.prctl(sc.PR_SET_KEEPCAPS, 1)
    ctx.sys.set_user(user.uid, user.gid, user.additional_gids)
    ctx.sys.prctl(sc.PR_SET_KEEPCAPS, 0)


def set_capabilities(ctx: InitContext) -> None:
    if ctx.cap_masks is not None:
        caps.apply_sets(ctx.sys, ctx.cap_masks)


def set_no_new_privs(ctx: InitContext) -> None:
    if ctx.spec.process.no_new_privileges:
        ctx.sys.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)


def enter_cwd(ctx: InitContext) -> None:
    try:
        ctx.sys.chdir(ctx.spec.process.cwd)
    except FileNotFoundError:
        ctx.sys.mkdir(ctx.spec.process.cwd)  # runc and Docker create a missing working directory
        ctx.sys.chdir(ctx.spec.process.cwd)


def find_command(ctx: InitContext) -> None:
    ctx.executable = command.resolve(ctx.spec.process.args[0], ctx.spec.process.env)


AFTER_PIVOT: list[Callable[[InitContext], None]] = [
    set_propagation, write_sysctls, mask_paths, readonly_paths, readonly_root, set_hostname, loopback_up, set_rlimits,
    set_oom_score_adj, attach_console, seccomp_before_caps, drop_bounding, switch_user, set_capabilities, set_no_new_privs,
    enter_cwd, find_command]
INIT_STEPS = BEFORE_PIVOT + AFTER_PIVOT
# A process joining a running container (exec) skips everything that builds the container.
EXEC_STEPS: list[Callable[[InitContext], None]] = [
    open_console, set_rlimits, set_oom_score_adj, attach_console, seccomp_before_caps, drop_bounding, switch_user, set_capabilities,
    set_no_new_privs, enter_cwd, find_command]


def run_steps(ctx: InitContext, steps: list[Callable[[InitContext], None]]) -> None:
    for step in steps:
        step(ctx)


def wait_for_start(ctx: InitContext) -> None:
    """Block until `start` opens exec.fifo for reading (runc's barrier between create and start)."""
    if ctx.fifo < 0:
        return
    fd = os.open(f"/proc/self/fd/{ctx.fifo}", os.O_WRONLY | os.O_CLOEXEC)
    os.write(fd, b"0")
    os.close(fd)
    os.close(ctx.fifo)
    # `start` waits for that byte. Let it run now: the scheduler tends to keep this process on
    # its CPU through the exec and leave the woken reader waiting a tick (~1 ms).
    os.sched_yield()


def exec_process(ctx: InitContext) -> None:
    """The last steps: barrier, late seccomp, execve. Never returns."""
    if ctx.sync >= 0:   # report(ctx, {"ready": True}), without json's first run in this fork
        os.write(ctx.sync, READY_LINE)
    ctx.ready = True
    wait_for_start(ctx)
    if ctx.hook_state is not None and ctx.spec.hooks_of("startContainer"):
        from krat.runtime import hooks

        hooks.run_hooks("startContainer", ctx.spec.hooks_of("startContainer"), json.dumps(ctx.hook_state).encode())
    _default_signals()
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    _close_on_exec(ctx.preserve_fds)
    if ctx.filter is not None and ctx.spec.process.no_new_privileges:
        ctx.filter.load()
    env = dict(item.split("=", 1) for item in ctx.spec.process.env)
    try:
        os.execve(ctx.executable, list(ctx.spec.process.args), env)
    except OSError as err:
        error = command.explain_exec_error(err, ctx.spec.process.args[0])
        os.write(2, f"krat-runtime: {error.message}\n".encode())
        os._exit(error.exit_code)


def _default_signals() -> None:
    """Every signal back to its default action: exec keeps ignored signals ignored, and the
    process must not inherit what Python (SIGPIPE, SIGXFSZ), the monitor (SIGHUP, SIGINT), or
    whatever started krat (`nohup`: SIGHUP; a shell's `&`: SIGINT, SIGQUIT) ignored. A
    container's process starts as Docker's do, with none ignored.
    Python knows every signal's action (read at its start, and set since through the signal
    module only: krat installs no handler any other way): one already at its default is left
    as it is, ~50 of the 64 (a sigaction each, ~0.04 ms in all)."""
    default = signal.SIG_DFL
    for sig in range(1, signal.NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP) or signal.getsignal(sig) == default:
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass   # the C library's own (32, 33) cannot be changed


def _close_on_exec(keep: int) -> None:
    """Only stdio and the --preserve-fds ones reach the process: one close_range call marks
    every other fd close-on-exec (Linux >= 5.11), else one fcntl each from /proc/self/fd."""
    for fd in range(3, 3 + keep):
        os.set_inheritable(fd, True)
    if sc.cloexec_from(3 + keep):
        return
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 + keep:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass
