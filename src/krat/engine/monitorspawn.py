"""Starting a container's monitor, the caller's side: light enough to be `krat run`'s first step.

`krat run` spawns its container's monitor before it loads the engine (see spawn_early), so
this module imports only what the interpreter has loaded at start-up (os, sys) and three C
modules (_socket, marshal): reaching it must not cost the CLI more than ~1 ms. The monitor's
own side (main, main_early) is krat.engine.monitor.
"""

from __future__ import annotations

import _socket
import marshal
import os
import sys

# How a monitor is started: `python -S -c MONITOR_MAIN ARGS` (runpy's `-m` costs ~3 ms more).
# It ends with os._exit: nothing is left to finalize (the log is closed, output goes out with
# os.write), and `run --rm` waits for the monitor to be gone.
MONITOR_MAIN = "import os, sys; from krat.engine.monitor import main; os._exit(main(sys.argv[1:]))"


def spawn_early(container_id: str, cgroups_path: str, run_dir: str,
                new_netns: bool = False) -> tuple[int, _socket.socket]:
    """`krat run`'s first step: start the container's monitor before the CLI loads the
    engine, so the monitor's interpreter start and its runtime child's import of krat.runtime
    overlap the CLI's own imports and preparation instead of following them. (A fork of the
    CLI would be cheaper to start but costs more: every page either process then writes is
    copied.) Returns (the pid to reap: it exits once the monitor has detached, the CLI's end
    of the sync socket). The monitor waits for its config (send_config), then for "go", as a
    monitor spawned with its config does; EOF first: it exits, having removed what it made
    (await_early waits for that). container_id: the id the CLI will give the container, so that the
    runtime's child can enter its cgroup early (see runtimes.prefork). new_netns: the
    container will have a network namespace of its own (--network none), which the
    runtime's child may then make ahead."""
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        os.set_inheritable(theirs.fileno(), True)
        # run_dir: only to tell in `ps` whose monitor it is
        pid = spawn_process(["--early", str(theirs.fileno()), container_id, cgroups_path,
                             "new-netns" if new_netns else "-", run_dir],
                            pass_fds=(theirs.fileno(),))
    finally:
        theirs.close()
    return pid, ours


def spawn_process(args: list[str], errfd: int = -1, pass_fds: tuple[int, ...] | None = None) -> int:
    """`python -S -c MONITOR_MAIN ARGS` in a new session, with this krat on its path and
    /dev/null (or errfd) as its stdio; returns its pid (it daemonizes: reap it soon).
    pass_fds: the only fds above 2 it gets; others the caller could pass on (inheritable:
    a shell's, a test harness', make's) are closed in it, or the monitor would hold them
    for its container's life. None: every inheritable fd, as posix_spawn does."""
    import krat

    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.abspath(krat.__file__)))
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
                   (os.POSIX_SPAWN_DUP2, errfd if errfd >= 0 else devnull, 2)]
        if pass_fds is not None:
            actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds() if fd not in pass_fds]
        return os.posix_spawn(sys.executable, [sys.executable, "-S", "-c", MONITOR_MAIN, *args], env,
                              setsid=True, file_actions=actions)
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
