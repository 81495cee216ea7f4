"""exec: a new process in a running container, through the container's runtime.

The process inherits the container's environment, user, working directory and
capabilities (from its config.json) unless -e/-u/-w say otherwise, as in Docker.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

from krat.engine.runtimes import classify, open_runtime, read_log_error, state_root
from krat.engine.state import Status
from krat.errors import Conflict

if TYPE_CHECKING:
    from krat.engine.containers import Container, ContainerService


@dataclass(frozen=True)
class ExecSpec:
    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""
    tty: bool = False
    interactive: bool = False
    detach: bool = False
    privileged: bool = False


def process_document(base: dict, spec: ExecSpec, user) -> dict:
    """The exec's process.json: the container's process with this exec's changes (pure)."""
    from krat.engine.ocigen import ALL_CAPS, merge_env

    proc = dict(base)
    proc["args"] = list(spec.args)
    proc["terminal"] = spec.tty
    env = [e for e in proc.get("env", []) if not (e.startswith("TERM=") and not spec.tty)]
    proc["env"] = merge_env(env, (["TERM=xterm"] if spec.tty else []) + list(spec.env))
    if spec.workdir:
        proc["cwd"] = spec.workdir
    if user is not None:
        u = {"uid": user.uid, "gid": user.gid}
        if user.additional_gids:
            u["additionalGids"] = list(user.additional_gids)
        proc["user"] = u
    if spec.privileged:
        caps = list(ALL_CAPS)
        proc["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    return proc


def run_exec(svc: "ContainerService", c: "Container", spec: ExecSpec) -> int:
    if c.status is Status.PAUSED:
        raise Conflict(f"container {c.name} is paused, unpause the container before exec")
    if c.status is not Status.RUNNING:
        raise Conflict(f"container {c.name} is not running")
    run_dir = svc.run_dir(c.id)
    with open(run_dir / "config.json") as f:
        config = json.load(f)
    user = None
    if spec.user:
        from krat.engine.bundle import resolve_user

        user = resolve_user(config["root"]["path"], spec.user)
    if spec.privileged and not c.spec.security.privileged:
        from krat.engine.bundle import host_capabilities

        caps = list(host_capabilities())
        process = process_document(config["process"], spec, user)
        process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    else:
        process = process_document(config["process"], spec, user)
    binary = c.spec.runtime or "krat"   # as monitor_config, without loading bundle.py
    if binary == "krat":
        return exec_in_process(state_root(binary, str(svc.paths.runroot)), c.id, process, spec, run_dir)
    import subprocess  # only for another OCI runtime's CLI: `krat exec` must not pay for it

    runtime = open_runtime(binary, str(svc.paths.runroot))
    r, w = os.pipe()
    os.write(w, json.dumps(process).encode())  # a process.json fits a pipe's buffer
    os.close(w)
    log = str(run_dir / f"exec-{os.getpid()}.log")
    argv = runtime.exec_argv(c.id, f"/dev/fd/{r}", tty=spec.tty, detach=spec.detach, log=log)
    stdin = None if spec.interactive or spec.tty else subprocess.DEVNULL
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        proc = subprocess.Popen(argv, stdin=stdin, pass_fds=(r,), restore_signals=True)
        os.close(r)
        for s in old:
            signal.signal(s, lambda signum, _f: proc.send_signal(signum))
        code = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return finish(code, log)


def finish(code: int, log: str) -> int:
    """Map the runtime's own failure (exit 255 with an error logged) to Docker's 126/127."""
    message = read_log_error(log) if code == 255 or code == 1 else ""
    try:
        os.unlink(log)
    except OSError:
        pass
    if message:  # the runtime has printed it on our stderr already
        mapped = classify(message)
        return 126 if mapped == 125 else mapped
    return code


# --- krat's own runtime, in this process ---------------------------------------------------

def exec_in_process(state_root: str, cid: str, document: dict, spec: ExecSpec, run_dir) -> int:
    import krat.runtime as rt
    from krat.oci.process import Process

    process = Process.from_json(document)
    if spec.tty and not spec.detach:
        return _exec_tty(rt, state_root, cid, process, spec, run_dir)
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        if spec.detach:
            stdio = (devnull, devnull, devnull)
        else:
            stdio = (0 if spec.interactive else devnull, 1, 2)
        pid = rt.exec_process(cid, process, state_root, stdio=stdio)
    finally:
        os.close(devnull)
    if spec.detach:
        return 0
    _forward_signals(pid)
    return rt.wait(pid)


def _forward_signals(pid: int) -> None:
    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(s, forward)


def _exec_tty(rt, state_root: str, cid: str, process, spec: ExecSpec, run_dir) -> int:
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
