"""exec: a new process in a running container, through the container's runtime.

The process inherits the container's environment, user, working directory and
capabilities (from its config.json) unless -e/-u/-w say otherwise, as in Docker.
"""

from __future__ import annotations

import _signal  # the signal module's C half, built in: `signal` itself imports enum (~4 ms)
import os

from krat.errors import Conflict

# `krat exec` is timed against `docker exec`: this module imports only `os` and the built-in
# `_signal` at the top, and the common case (a running container, krat's runtime) reads the
# database row and config.json without the sqlite3 and json packages (see krat.db.lookup,
# krat.oci.jsoncodec).


# Rows exec found, with the database's version they were read at (krat.db.lookup.find_container).
EXEC_LOOKUP = "exec-lookup.json"


class ExecSpec:
    """What `krat exec` asks for, besides the container."""

    __slots__ = ("args", "env", "user", "workdir", "tty", "interactive", "detach", "privileged", "console_size")

    def __init__(self, args: tuple[str, ...], env: tuple[str, ...] = (), user: str = "", workdir: str = "",
                 tty: bool = False, interactive: bool = False, detach: bool = False,
                 privileged: bool = False, console_size: tuple[int, int] | None = None) -> None:
        self.args, self.env, self.user, self.workdir = args, env, user, workdir
        self.tty, self.interactive, self.detach, self.privileged = tty, interactive, detach, privileged
        self.console_size = console_size   # (rows, columns) for the pty of -t (attach.terminal_size)


class Target:
    """The container an exec goes into, as far as exec needs to know it."""

    __slots__ = ("id", "name", "status", "runtime", "privileged", "run_dir", "runroot")

    def __init__(self, id: str, name: str, status: str, runtime: str, privileged: bool, run_dir: str,
                 runroot: str) -> None:
        self.id, self.name, self.status, self.runtime = id, name, status, runtime
        self.privileged, self.run_dir, self.runroot = privileged, run_dir, runroot


def exec_in(root: str | None, runroot: str | None, ref: str, spec: ExecSpec) -> int:
    """`krat exec`: find `ref` (name, id or id prefix) in the store at root/runroot (None: the
    defaults) and run spec in it; the exec's exit code (126/127 when its command cannot run)."""
    from krat.engine.config import default_root, default_runroot

    root = os.path.abspath(root or default_root())
    runroot = os.path.abspath(runroot or default_runroot())
    target = _running(root, runroot, ref)
    if target is None:  # not found, ambiguous, not running, its monitor gone: the service decides
        from krat.engine.config import Paths
        from krat.engine.containers import ContainerService

        svc = ContainerService(Paths.resolve(root, runroot))
        c = svc.get(ref)
        target = Target(c.id, c.name, c.status.value, c.spec.runtime, c.spec.security.privileged,
                        str(svc.run_dir(c.id)), str(svc.paths.runroot))
    return run_exec(target, spec)


def _running(root: str, runroot: str, ref: str) -> Target | None:
    """The container `ref` names when the database says running and its monitor (or its
    process) is alive; None for everything else, which ContainerService.get handles."""
    from krat.db.lookup import find_container
    from krat.oci import jsoncodec

    row = find_container(os.path.join(root, "krat.db"), ref, os.path.join(runroot, EXEC_LOOKUP))
    if row is None or row["status"] != "running":
        return None
    if not _monitor_alive(row["monitor_pid"], row["monitor_start"]):
        from krat.engine.procs import container_pid_alive

        if not container_pid_alive(row["pid"], row["id"]):
            return None
    spec = jsoncodec.loads(row["spec"])
    return Target(row["id"], row["name"], row["status"], spec.get("runtime") or "",
                  bool(spec.get("security", {}).get("privileged")),
                  os.path.join(runroot, "containers", row["id"]), runroot)


def _monitor_alive(pid: int, start_ticks: int) -> bool:
    """procs.pid_alive(pid, start_ticks) in one read of /proc/PID/stat: the process runs (is
    no zombie) and started when the row says (is not another one with a reused pid)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return fields[0] != b"Z" and (not start_ticks or int(fields[19]) == start_ticks)
    except (OSError, IndexError, ValueError):
        return False


def process_document(base: dict, spec: ExecSpec, user) -> dict:
    """The exec's process.json: the container's process with this exec's changes (pure)."""
    proc = dict(base)
    proc["args"] = list(spec.args)
    proc["terminal"] = spec.tty
    proc.pop("consoleSize", None)   # the container's own (its `run -t` terminal's), not ours
    if spec.tty and spec.console_size:
        proc["consoleSize"] = {"height": spec.console_size[0], "width": spec.console_size[1]}
    env = [e for e in proc.get("env", []) if not (e.startswith("TERM=") and not spec.tty)]
    if spec.tty or spec.env:
        from krat.engine.ocigen import merge_env

        env = merge_env(env, (["TERM=xterm"] if spec.tty else []) + list(spec.env))
    proc["env"] = env
    if spec.workdir:
        proc["cwd"] = spec.workdir
    if user is not None:
        u = {"uid": user.uid, "gid": user.gid}
        if user.additional_gids:
            u["additionalGids"] = list(user.additional_gids)
        proc["user"] = u
    if spec.privileged:
        from krat.engine.ocigen import ALL_CAPS

        caps = list(ALL_CAPS)
        proc["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    return proc


def run_exec(c: Target, spec: ExecSpec) -> int:
    if c.status == "paused":
        raise Conflict(f"container {c.name} is paused, unpause the container before exec")
    if c.status != "running":
        raise Conflict(f"container {c.name} is not running")
    warm = None
    if (c.runtime or "krat") == "krat" and _may_warm():
        from krat.runtime import cgroupwarm

        warm = cgroupwarm.start()  # the kernel's cgroup-move wait passes while the runtime loads
    try:
        return _run_exec(c, spec, warm)
    finally:
        if warm is not None:
            warm.stop()


def _may_warm() -> bool:
    """Whether cgroupwarm.start could do anything (it says why): not on a v1 host, where
    this saves loading it."""
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers") or bool(os.environ.get("KRAT_CGROUP2_ROOT"))


def _run_exec(c: Target, spec: ExecSpec, warm) -> int:
    from krat.engine.config import state_root
    from krat.oci import jsoncodec

    with open(os.path.join(c.run_dir, "config.json"), "rb") as f:
        config = jsoncodec.loads(f.read())
    user = None
    if spec.user:
        from krat.engine.bundle import resolve_user

        user = resolve_user(config["root"]["path"], spec.user)
    process = process_document(config["process"], spec, user)
    if spec.privileged and not c.privileged:
        from krat.engine.bundle import host_capabilities

        caps = list(host_capabilities())
        process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    binary = c.runtime or "krat"   # as monitor_config, without loading bundle.py
    if binary == "krat":
        return exec_in_process(state_root(binary, c.runroot), c.id, process, spec, c.run_dir, warm)
    return _exec_runtime_cli(binary, c, process, spec)


def _exec_runtime_cli(binary: str, c: Target, process: dict, spec: ExecSpec) -> int:
    """`RUNTIME exec --process /dev/fd/N ID` for another OCI runtime (runc, crun)."""
    import json
    import signal
    import subprocess  # only for another OCI runtime's CLI: `krat exec` must not pay for it

    from krat.engine.runtimes import open_runtime

    runtime = open_runtime(binary, c.runroot)
    r, w = os.pipe()
    os.write(w, json.dumps(process).encode())  # a process.json fits a pipe's buffer
    os.close(w)
    log = os.path.join(c.run_dir, f"exec-{os.getpid()}.log")
    argv = runtime.exec_argv(c.id, f"/dev/fd/{r}", tty=spec.tty, detach=spec.detach, log=log)
    stdin = None if spec.interactive or spec.tty else subprocess.DEVNULL
    # -d: nothing of ours is the process's (as krat's own runtime does); the runtime would
    # pass on our stdout, and whoever reads it would wait for the process to end.
    out = subprocess.DEVNULL if spec.detach and not spec.tty else None
    # A signal that comes while the runtime starts is kept and passed on once it runs (the
    # process may already write to our stdout), not lost and not fatal to us.
    held: list[int] = []
    started: list[subprocess.Popen] = []

    def forward(signum, _frame):
        if started:
            started[0].send_signal(signum)
        else:
            held.append(signum)
    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL if spec.detach else stdin, stdout=out,
                                stderr=out, pass_fds=(r,), restore_signals=True)
        os.close(r)
        started.append(proc)
        for signum in held:
            proc.send_signal(signum)
        _collector_back_on()
        code = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return finish(code, log, echo=out is not None)


def finish(code: int, log: str, echo: bool = False) -> int:
    """Map the runtime's own failure (exit 255 with an error logged) to Docker's 126/127.
    echo: the runtime's stderr was not ours (-d): say its error here."""
    from krat.engine.runtimes import classify, read_log_error

    message = read_log_error(log) if code == 255 or code == 1 else ""
    try:
        os.unlink(log)
    except OSError:
        pass
    if message and echo:
        import sys

        sys.stderr.write(f"Error: {message}\n")
    if message:  # the runtime has printed it on our stderr already (or we just did)
        mapped = classify(message)
        return 126 if mapped == 125 else mapped
    return code


# --- krat's own runtime, in this process ---------------------------------------------------

def exec_in_process(state_root: str, cid: str, document: dict, spec: ExecSpec, run_dir, warm=None) -> int:
    """warm: a cgroupwarm.Warmup to stop once the process has joined the container's cgroup."""
    import krat.runtime as rt
    from krat.oci.process import Process

    process = Process.from_json(document)
    if spec.detach:
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            rt.exec_process(cid, process, state_root, stdio=(devnull, devnull, devnull))
        finally:
            os.close(devnull)
            if warm is not None:
                warm.stop()
        return 0
    _hold_signals()
    try:
        if spec.tty:
            return _exec_tty(rt, state_root, cid, process, spec, run_dir, warm)
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            pid = rt.exec_process(cid, process, state_root, stdio=(0 if spec.interactive else devnull, 1, 2))
        finally:
            os.close(devnull)
            if warm is not None:
                warm.stop()
        _forward_signals(pid)
    finally:
        _release_signals()   # again, harmless: for when the process did not start
    return rt.wait(pid)


def _collector_back_on() -> None:
    """The command waits from here on, however long: cyclic garbage collection again where
    cli.commands.exec turned it off for the start-up, over what is made from now on (a pass
    over everything the start-up made would cost what turning it off saved). A caller that
    left the collector on (a long-lived process) is not touched."""
    import gc

    if not gc.isenabled():
        gc.freeze()
        gc.enable()


FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT)


def _hold_signals() -> None:
    """Block the signals we forward while the process starts: it may write to our stdout (a
    user sees "ready" and presses Ctrl-C) before we know its pid. Blocked, such a signal
    waits for _forward_signals instead of stopping us (KeyboardInterrupt) and leaving the
    process running. The process itself starts with no signal blocked (init.exec_process)."""
    _signal.pthread_sigmask(_signal.SIG_BLOCK, FORWARDED)


def _release_signals() -> None:
    """A signal held meanwhile is delivered now: to the forwarder, or, if the process never
    started, to what handled it before (Ctrl-C stops the CLI)."""
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, FORWARDED)


def _forward_signals(pid: int) -> None:
    """From here on we wait for pid (or proxy its terminal)."""
    _collector_back_on()

    from krat.engine.procs import signaller

    send = signaller(pid)   # not os.kill(pid): once the process is reaped, its pid may be another's

    def forward(signum, _frame):
        send(signum)
    for s in FORWARDED:
        _signal.signal(s, forward)
    _release_signals()


def _exec_tty(rt, state_root: str, cid: str, process, spec: ExecSpec, run_dir, warm=None) -> int:
    """exec -t: receive the pty master over a console socket and proxy our terminal to it."""
    import socket

    from krat.engine.monitor import recv_fd

    name = f"exec-{os.getpid()}.sock"
    dirfd = os.open(run_dir, os.O_PATH | os.O_DIRECTORY)
    path = f"/proc/self/fd/{dirfd}/{name}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen(1)
        pid = rt.exec_process(cid, process, state_root, stdio=None, console_socket=path)
        if warm is not None:
            warm.stop()
        listener.settimeout(10)
        conn, _ = listener.accept()
        with conn:
            master = recv_fd(conn)
    finally:
        listener.close()
        try:
            os.unlink(os.path.join(str(run_dir), name))
        except OSError:
            pass
        os.close(dirfd)
    _forward_signals(pid)
    proxy_terminal(master, spec.interactive)
    return rt.wait(pid)


def proxy_terminal(master: int, interactive: bool) -> None:
    """Copy our stdin to the pty master and the master to our stdout until it closes."""
    import fcntl
    import select
    import termios

    restore = None
    if os.isatty(0):
        import signal
        import tty

        saved = termios.tcgetattr(0)
        tty.setraw(0)
        restore = saved

        def resize(*_):
            try:
                size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
                fcntl.ioctl(master, termios.TIOCSWINSZ, size)
            except OSError:
                pass
        resize()
        signal.signal(signal.SIGWINCH, resize)
    watch = [master] + ([0] if interactive else [])
    try:
        while True:
            try:
                ready, _, _ = select.select(watch, [], [])
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    return
                os.write(1, data)
            if 0 in ready:
                data = os.read(0, 65536)
                if not data:
                    watch.remove(0)
                    continue
                os.write(master, data)
    finally:
        os.close(master)
        if restore is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, restore)
