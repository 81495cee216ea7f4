"""Starting a container's monitor, the caller's side: light enough to be `krat run`'s first step.

`krat run` starts its container's monitor before it loads the engine (spawn_early: a fork of
the CLI that becomes the monitor), so this module imports only what the interpreter has
loaded at start-up (os, sys) and C modules (_socket, marshal, gc): reaching it must not cost
the CLI more than ~1 ms (ctypes' C half loads in the forked child only). Other monitors are
spawned as `python -S -c MONITOR_MAIN ARGS` (spawn_process). The monitor's own side (main,
main_early) is krat.engine.monitor.
"""

from __future__ import annotations

import _socket
import gc
import marshal
import os
import sys

# How a monitor is started: `python -S -c MONITOR_MAIN ARGS` (runpy's `-m` costs ~3 ms more).
# It ends with os._exit: nothing is left to finalize (the log is closed, output goes out with
# os.write), and `run --rm` waits for the monitor to be gone.
MONITOR_MAIN = "import os, sys; from krat.engine.monitor import main; os._exit(main(sys.argv[1:]))"


def spawn_early(container_id: str, cgroups_path: str, run_dir: str,
                new_netns: bool = False, removal: bool = False,
                detached: bool = False) -> tuple[int, _socket.socket]:
    """`krat run`'s first step: start the container's monitor before the CLI loads the
    engine, so the monitor's start and its runtime child's import of krat.runtime overlap
    the CLI's own imports and preparation instead of following them. Returns (the monitor's
    pid, the CLI's end of the sync socket). The monitor stays this process' child, in a
    session of its own, until this process exits (reap it with reap_early, or await_early
    when it was never configured): for a caller that ends with its command, as `krat run`
    does; a long-lived one starts monitors with spawn_configured, which detaches them. The
    monitor waits for its config (send_config), then for "go", as a monitor spawned with its
    config does; EOF first: it exits, having removed what it made (await_early waits for
    that). container_id: the id the CLI will give the container, so that the runtime's child
    can enter its cgroup early (see runtimes.prefork). new_netns: the
    container will have a network namespace of its own (--network none), which the
    runtime's child may then make ahead. removal: the command line asks for --rm; the monitor
    then loads the removal's code while it waits. detached: it asks for -d; else the monitor
    creates the container itself (runtimes.create_ahead) instead of a pre-forked child.

    The monitor is a fork of the CLI, taken this early (~2 ms into the CLI: a few modules
    loaded, one thread, nothing written to stdout) so that it shares little: no second
    interpreter start (~7 ms of CPU on the core the CLI does not use, and the runtime's
    child starts its imports that much sooner), for ~1 ms more CPU in the CLI (the fork, and
    the copies of the pages both then write) and ~0.9 MiB more RSS in the idle monitor. See
    become_monitor for what it leaves behind of the CLI."""
    global AFFINITY
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        os.set_inheritable(theirs.fileno(), True)
        # run_dir: only to tell in `ps` whose monitor it is
        hints = ",".join(name for name, on in (("new-netns", new_netns), ("rm", removal), ("detach", detached))
                         if on)
        args = ["--early", str(theirs.fileno()), container_id, cgroups_path, hints or "-", run_dir]
        AFFINITY = os.sched_getaffinity(0)   # before the fork: the monitor has it too
        pid = os.fork()
        if pid == 0:
            become_monitor(theirs.fileno(), args)
        _set_apart(pid)
    finally:
        theirs.close()
    return pid, ours


# The CPU mask the CLI had when it forked the monitor; in the monitor's first processes
# (which have it in their copy of this module) until restore_affinity.
AFFINITY: set[int] | None = None


def _set_apart(pid: int) -> None:
    """Keep the monitor just forked, and what it forks until its runtime child is ready
    (they inherit its mask), off the CPU this CLI runs on. The kernel queued a fork's child
    beside its parent, and the monitor's own detaching fork beside the CLI again; with the
    CLI busy for the next ~10 ms and the other CPU idle, the monitor then waited 1-6 ms
    before it first ran (perf sched, 8 runs; ~0.3 ms set apart). Each of them gives itself
    the whole mask back (restore_affinity) before anything of the container inherits it.
    One CPU: nothing to do."""
    others = AFFINITY - {_current_cpu()} if AFFINITY and len(AFFINITY) > 1 else None
    if others:
        try:
            os.sched_setaffinity(pid, others)
        except OSError:
            pass


def _current_cpu() -> int:
    """The CPU this process runs on (field 39 of /proc/self/stat; -1 if unreadable)."""
    try:
        fd = os.open("/proc/self/stat", os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.read(fd, 1024)
        finally:
            os.close(fd)
        return int(data.rpartition(b")")[2].split()[36])
    except (OSError, ValueError, IndexError):
        return -1


def restore_affinity() -> None:
    """Back to the CLI's CPU mask (see _set_apart), or to every CPU when a cpuset the
    process entered since no longer allows it. A process not forked that way: nothing."""
    if AFFINITY is None:
        return
    try:
        os.sched_setaffinity(0, AFFINITY)
    except OSError:
        try:
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
        except OSError:
            pass


def early_args(args: list[str]) -> tuple[int, str, str, bool, bool, bool]:
    """An early monitor's arguments (spawn_early's): (sync fd, container id, cgroups path,
    new_netns, removal, detached); the run dir after them only tells `ps` whose monitor it is."""
    hints = args[4].split(",")
    return int(args[1]), args[2], args[3], "new-netns" in hints, "rm" in hints, "detach" in hints


def become_monitor(sync_fd: int, args: list[str]) -> None:
    """The forked child of spawn_early: leave the CLI's session, stdio and every other fd
    (setsid: no second fork, see detach_and_prefork), fork the runtime's child (prefork) at
    once, take the command line a spawned monitor has (`ps`, and tests, tell monitors by
    it), and run the monitor's main; if the command line cannot be set, let the runtime's
    child go and exec a new interpreter as spawn_process would. Never returns.

    The runtime's child is forked before anything else of the monitor (the command line,
    ~1.2 ms; the monitor's imports): its import of krat.runtime is the longest part of
    getting ready for "go", which comes ~12 ms into a quiet `run`."""
    code = 127
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, sync_fd)
        os.closerange(sync_fd + 1, max(os.sysconf("SC_OPEN_MAX"), sync_fd + 2))
        preforked = detach_and_prefork(*early_args(args), forked=True)
        if preforked is not None and preforked[2] >= 0:   # not AHEAD: nothing to wait for
            await_ready(preforked[2])
        restore_affinity()   # set apart by spawn_early until the runtime's child is ready
        argv = monitor_argv(args)
        if not set_cmdline(argv):
            if preforked is not None:
                from krat.engine.runtimes import release_preforked

                if preforked[2] >= 0:
                    os.close(preforked[2])
                release_preforked(*preforked[:2])
            os.set_inheritable(sync_fd, True)
            os.execve(argv[0], argv, monitor_command(args)[1])
        os.environ["PYTHONPATH"] = monitor_path()   # for what the monitor starts, as if spawned
        # `run` turned the cyclic collector off while it sets up; a monitor lives long: on, as in
        # a new interpreter, over what it makes from here on (the CLI's objects are left alone).
        gc.freeze()
        gc.enable()
        from krat.engine.monitor import main

        code = main(args, detached=True, preforked=preforked)
    except BaseException:   # as an interpreter would end on it: the traceback to stderr (monitor.log)
        code = 1
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(code)


def detach() -> None:
    """The monitor's double fork: its parent (spawn_early's child, or spawn_process' new
    process) exits at once, and it stays in a session of its own."""
    if os.fork() > 0:
        os._exit(0)
    if os.getsid(0) != os.getpid():
        os.setsid()


def set_subreaper() -> None:
    from krat.runtime import libc   # _ctypes alone: the ctypes package costs ~1.5 ms

    PR_SET_CHILD_SUBREAPER = 36
    if libc.process().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(libc.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def await_ready(fd: int) -> None:
    """Until the runtime's child is ready (fd readable: its byte, or EOF if it died), left
    for the monitor to read: until then the monitor's own start (its command line, imports)
    would only take the CPU from that child, and the config is of no use before it."""
    import select

    while True:
        try:
            select.select([fd], [], [])
            return
        except InterruptedError:
            continue


def detach_and_prefork(sync_fd: int, container_id: str, cgroups_path: str, new_netns: bool,
                       removal: bool = False, detached: bool = False,
                       forked: bool = False) -> tuple[int, int, int] | None:
    """An early monitor's first steps, forked from the CLI (become_monitor: forked) or exec'ed
    (monitor.main_early): detach, become a subreaper, and fork the runtime's create child
    (runtimes.prefork) unless the runtime is another one (KRAT_RUNTIME; --runtime is known
    with the config: the monitor lets the child go then). Detached first: the monitor
    itself is that child's parent, and a subreaper before it exists, so the container's init
    (or an early init left by a child that died) is re-parented to the monitor. forked: the
    CLI's child, in a session of its own already; it stays the CLI's child (no second fork:
    ~0.6 ms of the monitor's way to "ready") until the CLI, which exits within moments of
    the container's end, leaves it to init (see spawn_early). Not detached (a foreground
    `run`): no child, this process gets ready to create the container itself
    (runtimes.create_ahead: AHEAD)."""
    os.set_inheritable(sync_fd, False)  # the container must not hold the CLI's socket
    if not forked:
        detach()
    set_subreaper()
    if os.environ.get("KRAT_RUNTIME", "krat") != "krat":
        return None
    if removal:
        # What --rm's removal needs (the runtime's delete), loaded once, here, for the child
        # too, which needs it for create: else each loads it (~1.6 ms of CPU), ours after
        # the start, while the container runs, which `run --rm true` then waits for.
        from krat.engine.monitorexit import preload_cleanup

        preload_cleanup(krat_runtime=True)
    if not detached:
        from krat.engine.runtimes import create_ahead

        ahead = create_ahead(container_id, cgroups_path, close=(sync_fd,), new_netns=new_netns)
        if ahead is not None:
            return ahead
        # No cgroup or no init made here (a rootless host without a delegated cgroup, say):
        # the child then has krat.runtime loaded already, and tries its own way.
    from krat.engine.runtimes import prefork

    return prefork(container_id, cgroups_path, close=(sync_fd,), new_netns=new_netns)


def monitor_command(args: list[str]) -> tuple[list[str], dict]:
    """The argv and environment of `python -S -c MONITOR_MAIN ARGS` with this krat on its path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = monitor_path()
    return monitor_argv(args), env


def monitor_argv(args: list[str]) -> list[str]:
    return [sys.executable, "-S", "-c", MONITOR_MAIN, *args]


def monitor_path() -> str:
    """A monitor's PYTHONPATH: this krat's tree first, then the caller's own."""
    import krat

    src = os.path.dirname(os.path.dirname(os.path.abspath(krat.__file__)))
    old = os.environ.get("PYTHONPATH")
    return src + (os.pathsep + old if old else "")


_cmdline = None   # the buffer /proc/self/cmdline points into, kept for the process' life


def set_cmdline(argv: list[str]) -> bool:
    """Point this process' command line (/proc/PID/cmdline) at argv, with
    prctl(PR_SET_MM, PR_SET_MM_MAP): it takes every field of the memory map, so the others
    are given as /proc/self/stat has them and brk as sbrk(0) says (no allocation between).
    PR_SET_MM_MAP needs no capability (PR_SET_MM_ARG_START would: CAP_SYS_RESOURCE), but a
    kernel without CONFIG_CHECKPOINT_RESTORE lacks it: False then.

    struct prctl_mm_map is packed into bytes by hand rather than declared as a ctypes
    Structure (a class built per call) or packed with _struct (its module's types, made on
    import): ~0.1 ms less on the monitor's way to "go"."""
    global _cmdline
    from krat.runtime import libc   # _ctypes alone: the ctypes package costs ~1.5 ms

    data = b"\0".join(os.fsencode(a) for a in argv) + b"\0"
    buf = libc.bytes_buffer(data)
    fd = os.open("/proc/self/stat", os.O_RDONLY | os.O_CLOEXEC)
    try:
        stat = os.read(fd, 4096).rsplit(b")", 1)[1].split()   # fields from the 3rd (state) on
    finally:
        os.close(fd)

    def field(n: int) -> int:   # proc(5) numbering
        return int(stat[n - 3])

    sbrk = libc._Function(("sbrk", libc.process()))
    sbrk.restype = libc.c_ulong   # a pointer (c_void_p: one more type to make)
    arg_start = libc.addressof(buf)
    PR_SET_MM, PR_SET_MM_MAP = 35, 14
    # start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start,
    # arg_end, env_start, env_end, auxv (u64 each); auxv_size, exe_fd (u32): linux/prctl.h
    u64 = (field(26), field(27), field(45), field(46), field(47), sbrk(0), field(28), arg_start,
           arg_start + len(data), field(50), field(51), 0)
    mm = b"".join(v.to_bytes(8, sys.byteorder) for v in u64) + bytes(4) + b"\xff" * 4
    if libc.process().prctl(PR_SET_MM, PR_SET_MM_MAP, mm, len(mm), 0) != 0:
        return False
    _cmdline = buf
    return True


def spawn_configured(cfg: dict, errlog: str, wait: bool = True) -> int:
    """A monitor given its whole config (`krat start`, a run without an early monitor):
    `python -S -c MONITOR_MAIN CONFIG` in a new session, its stderr appended to errlog;
    returns once it has detached (wait=False: at once, with the pid to reap, so the caller
    works while it starts)."""
    os.set_inheritable(cfg["sync_fd"], True)
    errfd = os.open(errlog, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        pid = spawn_process([marshal.dumps(cfg).hex()], errfd, pass_fds=(cfg["sync_fd"],))
    finally:
        os.close(errfd)
    if wait:
        os.waitpid(pid, 0)  # the first fork exits at once; the monitor lives on, reparented
    return pid


def spawn_process(args: list[str], errfd: int = -1, pass_fds: tuple[int, ...] | None = None) -> int:
    """`python -S -c MONITOR_MAIN ARGS` in a new session, with this krat on its path and
    /dev/null (or errfd) as its stdio; returns its pid (it daemonizes: reap it soon).
    pass_fds: the only fds above 2 it gets; others the caller could pass on (inheritable:
    a shell's, a test harness', make's) are closed in it, or the monitor would hold them
    for its container's life. None: every inheritable fd, as posix_spawn does."""
    argv, env = monitor_command(args)
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
                   (os.POSIX_SPAWN_DUP2, errfd if errfd >= 0 else devnull, 2)]
        if pass_fds is not None:
            actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds() if fd not in pass_fds]
        return os.posix_spawn(argv[0], argv, env, setsid=True, file_actions=actions)
    finally:
        os.close(devnull)


def _inheritable_fds() -> list[int]:
    """This process' fds above 2 that a child would inherit (not close-on-exec)."""
    out = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    out.append(fd)
            except OSError:
                continue   # the listing's own fd, closed by now
    return out


def reap_early(pid: int) -> None:
    """Reap the early monitor if it has exited: it is this process' child (spawn_early), and
    one that outlives this process is left to init."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def await_early(pid: int, sock: _socket.socket) -> None:
    """The CLI side of spawn_early when `run` fails before it configured the monitor: EOF to
    it, then wait until it has gone (it removes the cgroup its runtime child entered), so
    nothing of the failed run outlives the CLI. A configured monitor's socket is detached
    (fileno -1): ContainerService owns it then."""
    if sock.fileno() < 0:
        return
    try:
        sock.shutdown(_socket.SHUT_WR)
        while sock.recv(4096):
            pass
    except OSError:
        pass
    sock.close()
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def send_config(sock: _socket.socket, cfg: dict) -> None:
    """The CLI side of spawn_early: the monitor's config (marshal, length-prefixed)."""
    blob = marshal.dumps(cfg)
    sock.sendall(len(blob).to_bytes(4, "big") + blob)
