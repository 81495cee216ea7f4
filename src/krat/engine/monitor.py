"""The per-container monitor: `python -S -c MONITOR_MAIN CONFIG` (see MONITOR_MAIN).

A small detached process (double fork, new session) that is the container's parent
(PR_SET_CHILD_SUBREAPER): it creates and starts the container through the runtime,
owns its stdio (pipes, or the pty master received over the console socket), writes
the json-file log, serves attach clients on a unix socket, records the exit (code,
time, OOM), applies the restart policy and cleans up when the container is done.

It lives as long as its container, so while the container runs it holds only C
modules (_socket, select, _signal, marshal, _json) and ctypes for prctl: the database
and the cleanup code are imported when the container has exited, and a monitor that
restarts its container talks to the database from short-lived forked children.

Start handshake: CONFIG is marshal'ed, hex-encoded; its "sync_fd" is one end of a
socketpair. The monitor sends JSON lines {"created": pid}, then {"started": pid,
"monitor": pid, "ticks": n} or {"error": text}. After "started" the CLI records the
running state and closes its end; the monitor records an exit only after that EOF,
so the two writes cannot cross.

Attach protocol (unix stream socket attach.sock): the client sends b"A" to receive
output or b"W" to wait only, then frames [kind u8][length u32 BE][payload]:
monitor -> client: 1 stdout, 2 stderr, 3 exit ({"code": N, "final": bool});
client -> monitor: 0 stdin data, 4 close stdin, 5 resize (rows, cols: u16 BE each).
The owner of an --rm container (mode b"R"), or an `rm -f` (mode b"D", for any container),
removes it with the monitor once it exited (see handoff):
client -> monitor: 7 removing; monitor -> client: 8 released (then EOF: the monitor exited).
"""

from __future__ import annotations

import _signal
import _socket
import marshal
import os
import select
import sys
import time

from krat.engine.monitorproto import (EXIT, HEADER_SIZE, RELEASED, REMOVING, RESIZE, STDERR, STDIN,  # noqa: F401
                                      STDIN_CLOSE, STDOUT, exit_payload, frame, parse_frames, proc_start_ticks)
from krat.engine.monitorexit import KEEP, cleanup, handoff, hold, preload_cleanup, removes  # noqa: F401
from krat.engine.monitorstate import open_db, record, record_in_child, restart_delay, trace  # noqa: F401
from krat.engine.monitorspawn import (MONITOR_MAIN, await_early, detach, detach_and_prefork,  # noqa: F401
                                      early_args, send_config, set_subreaper, spawn_early, spawn_process)

ACK_TIMEOUT = 30.0


def exit_code_of(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def unix_socket() -> _socket.socket:
    return _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)


def recv_fd(conn: _socket.socket) -> int:
    _, anc, _, _ = conn.recvmsg(4096, _socket.CMSG_SPACE(4))
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            return int.from_bytes(data[:4], sys.byteorder, signed=True)
    raise OSError("no file descriptor received on the console socket")


class Monitor:
    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self.id: str = cfg["id"]
        self.dir: str = cfg["dir"]
        self.dirfd = os.open(self.dir, os.O_PATH | os.O_DIRECTORY)
        self.tty: bool = cfg.get("tty", False)
        self.open_stdin: bool = cfg.get("open_stdin", False)
        self.stdin_once: bool = cfg.get("stdin_once", False)
        self.ep = select.epoll()
        self.handlers: dict[int, tuple] = {}
        self.clients: dict[int, list] = {}        # fd -> [socket, streaming, buffer]
        self.outputs: dict[int, int] = {}         # fd -> STDOUT | STDERR
        self.stdin_fd = -1
        self.pid = 0
        self.exit_status: int | None = None
        self.started = 0.0
        self.restart_count: int = cfg.get("restart_count", 0)
        self.last_delay = 0.0
        self.log = None
        self.runtime = None
        self.listener: _socket.socket | None = None
        self.owner = -1                           # the client that removes an --rm container
        self.forced = False                       # ... or any container (`rm -f`, mode b"D")
        self.unrecorded: dict | None = None       # the exit, while that client may remove it
        self.wake_r = -1
        self.nudged = False                       # SIGUSR1 came (a stop or kill while restarting)
        self.later = None                         # an early monitor's deferred work (Later)
        self.held: list[int] | None = None        # see monitorexit.hold
        self.mount_ns = -1                        # see mount_namespace

    def short(self, name: str) -> str:
        """A socket path that fits sun_path (108 bytes) however long the runroot is."""
        return f"/proc/{os.getpid()}/fd/{self.dirfd}/{name}"

    def watch(self, fd: int, *handler) -> None:
        self.handlers[fd] = handler
        self.ep.register(fd, select.EPOLLIN)

    def unwatch(self, fd: int) -> None:
        self.handlers.pop(fd, None)
        try:
            self.ep.unregister(fd)
        except (OSError, ValueError):
            pass

    # --- creating the container ------------------------------------------------------------
    def create(self) -> None:
        devnull = os.open(os.devnull, os.O_RDWR)
        child_fds = [devnull]
        console = None
        if self.tty:
            self._unlink("console.sock")
            console = unix_socket()
            console.bind(self.short("console.sock"))
            console.listen(1)
            stdio = (devnull, devnull, devnull)
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            in_fd = devnull
            if self.open_stdin:
                in_fd, self.stdin_fd = os.pipe()
                child_fds.append(in_fd)
            stdio = (in_fd, out_w, err_w)
            child_fds += [out_w, err_w]
            self.add_output(out_r, STDOUT)
            self.add_output(err_r, STDERR)
        # krat's runtime starts the container as soon as it is created: what this monitor does
        # in between (report "created", accept the attach client) needs no stopped container,
        # since the output waits in the pipe or pty until the loop reads it. Not with a gate:
        # then the CLI is still plugging the network in (see start_container).
        at_once = {"start": True} if getattr(self.runtime, "starts_at_once", False) and not self.cfg.get("gate") else {}
        try:
            self.pid = self.runtime.create(self.id, self.dir, stdio=stdio,
                                           console_socket=self.short("console.sock") if console else None,
                                           **at_once)
        finally:
            for fd in child_fds:
                os.close(fd)
        if console is not None:
            console.settimeout(10)
            fd, _ = console._accept()
            conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, fd)
            master = recv_fd(conn)
            conn.close()
            console.close()
            self._unlink("console.sock")
            self.add_output(master, STDOUT)
            self.stdin_fd = master

    def _unlink(self, name: str) -> None:
        try:
            os.unlink(os.path.join(self.dir, name))
        except OSError:
            pass

    def add_output(self, fd: int, kind: int) -> None:
        os.set_blocking(fd, False)
        self.outputs[fd] = kind
        self.watch(fd, "out", kind)

    def drop_outputs(self) -> None:
        for fd in list(self.outputs):
            self.unwatch(fd)
            os.close(fd)
        self.outputs.clear()
        if self.stdin_fd >= 0:
            try:
                os.close(self.stdin_fd)
            except OSError:
                pass
            self.stdin_fd = -1

    def listen(self) -> None:
        self._unlink("attach.sock")
        self.listener = unix_socket()
        self.listener.bind(self.short("attach.sock"))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.watch(self.listener.fileno(), "listen")

    # --- clients ---------------------------------------------------------------------------
    def accept(self, timeout: float = 0.0) -> None:
        self.listener.settimeout(timeout or None) if timeout else self.listener.setblocking(False)
        try:
            fd, _ = self.listener._accept()
        except (BlockingIOError, TimeoutError, OSError):
            return
        finally:
            self.listener.setblocking(False)
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, fd)
        conn.settimeout(10)
        try:
            mode = conn.recv(1)
        except OSError:
            conn.close()
            return
        conn.settimeout(5)
        if mode in (b"R", b"D"):
            self.owner = fd
            self.forced = mode == b"D"
        self.clients[fd] = [conn, mode in (b"A", b"R"), b""]
        self.watch(fd, "client")

    def drop(self, fd: int) -> None:
        client = self.clients.pop(fd, None)
        self.unwatch(fd)
        if client:
            client[0].close()

    def broadcast(self, kind: int, payload: bytes, streaming_only: bool = True) -> None:
        data = frame(kind, payload)
        for fd, (conn, streaming, _) in list(self.clients.items()):
            if streaming or not streaming_only:
                try:
                    conn.sendall(data)
                except OSError:
                    self.drop(fd)

    def on_client(self, fd: int) -> None:
        client = self.clients.get(fd)
        if client is None:
            return
        try:
            data = client[0].recv(65536)
        except OSError:
            data = b""
        if not data:
            self.drop(fd)
            return
        frames, client[2] = parse_frames(client[2] + data)
        for kind, payload in frames:
            self.client_frame(kind, payload)

    def client_frame(self, kind: int, payload: bytes) -> None:
        if self.stdin_fd < 0:
            return
        if kind == STDIN:
            try:
                os.write(self.stdin_fd, payload)
            except OSError:
                pass
        elif kind == STDIN_CLOSE and not self.tty and self.stdin_once:
            os.close(self.stdin_fd)
            self.stdin_fd = -1
        elif kind == RESIZE and self.tty and len(payload) == 4:
            import fcntl
            import termios

            rows, cols = int.from_bytes(payload[:2], "big"), int.from_bytes(payload[2:], "big")
            packed = b"".join(v.to_bytes(2, sys.byteorder) for v in (rows, cols, 0, 0))
            fcntl.ioctl(self.stdin_fd, termios.TIOCSWINSZ, packed)

    # --- the loop --------------------------------------------------------------------------
    def on_output(self, fd: int, kind: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.unwatch(fd)
            del self.outputs[fd]
            if fd == self.stdin_fd:
                self.stdin_fd = -1
            os.close(fd)
            return
        self.log.write("stdout" if kind == STDOUT else "stderr", data)
        self.broadcast(kind, data)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid:
                self.exit_status = status
                trace("reaped")

    def poll(self, timeout: float | None) -> None:
        try:
            events = self.ep.poll(-1 if timeout is None else timeout)
        except InterruptedError:
            return
        for fd, _ in events:
            handler = self.handlers.get(fd)
            if handler is None:
                continue
            if handler[0] == "out":
                self.on_output(fd, handler[1])
            elif handler[0] == "client":
                self.on_client(fd)
            elif handler[0] == "listen":
                self.accept()
            elif handler[0] == "wake":
                try:
                    signums = os.read(fd, 4096)   # the wakeup fd gets one byte per signal: its number
                except OSError:
                    signums = b""
                self.nudged = self.nudged or _signal.SIGUSR1 in signums
                self.reap()

    def run_until_exit(self) -> None:
        """Serve until the container has exited and its output is drained."""
        self.reap()
        deadline = 0.0
        while self.exit_status is None or self.outputs:
            if self.exit_status is not None:
                deadline = deadline or time.monotonic() + 2.0
                if time.monotonic() > deadline:
                    break  # a process outside the pid namespace still holds the pipes
            self.poll(0.5 if self.exit_status is not None else None)
        self.log.flush()

    def sleep(self, seconds: float) -> None:
        """Serve clients for `seconds`, or until SIGUSR1 comes (one sent before this call
        and not yet polled still counts: its byte waits in the wakeup pipe)."""
        self.nudged = False
        end = time.monotonic() + seconds
        while not self.nudged and (left := end - time.monotonic()) > 0:
            self.poll(left)

    def oom_killed(self) -> bool:
        base = self.cfg.get("cgroup_memory", "")
        for name in ("memory.oom_control", "memory.events"):
            try:
                with open(os.path.join(base, name)) as f:
                    for line in f:
                        key, _, value = line.partition(" ")
                        if key == "oom_kill" and int(value) > 0:
                            return True
            except (OSError, ValueError):
                continue
        return False


def sync_send(fd: int, text: str) -> None:
    if fd >= 0:
        try:
            os.write(fd, (text + "\n").encode())
        except OSError:
            pass


def await_go(fd: int, cfg: dict) -> bool:
    """A monitor started early (ContainerService.create's prestart) waits for "go": the
    container is prepared; "go gate": and its network is still being plugged in (the
    gate in start_container). EOF instead: the CLI gave up."""
    trace("waiting for go")
    line = read_line(fd)
    trace("go")
    if line == b"go gate\n":
        cfg["gate"] = True
        return True
    return line == b"go\n"


def read_line(fd: int) -> bytes:
    """One line from the sync socket (b"" at EOF or on an error)."""
    buf = b""
    while not buf.endswith(b"\n"):
        try:
            data = os.read(fd, 64)
        except OSError:
            return b""
        if not data:
            return b""
        buf += data
    return buf


def wait_ack(fd: int) -> None:
    """Block until the CLI closed its end of the sync socket (it has recorded 'running')."""
    end = time.monotonic() + ACK_TIMEOUT
    while (left := end - time.monotonic()) > 0:
        try:
            ready, _, _ = select.select([fd], [], [], left)
        except InterruptedError:
            continue
        if not ready:
            return
        try:
            if not os.read(fd, 4096):
                return
        except OSError:
            return


def start_container(mon: Monitor, sync_fd: int, attach: bool) -> bool:
    """create + start; report on the sync socket. False when the container did not start."""
    trace("create")
    try:
        mon.create()
    except Exception as err:  # the runtime's own reason goes to the CLI verbatim
        sync_send(sync_fd, error_message(err))
        return False
    if mon.cfg.get("auto_remove"):
        mon.mount_ns = mount_namespace(mon.pid)
    sync_send(sync_fd, '{"created": %d}' % mon.pid)
    if sync_fd >= 0 and mon.cfg.get("gate") and read_line(sync_fd) != b"start\n":
        # the CLI's network setup (overlapped with create) failed: it reports why
        mon.drop_outputs()
        return False
    if attach:
        mon.accept(timeout=10)
    trace("start")
    try:
        mon.runtime.start(mon.id)
    except Exception as err:
        sync_send(sync_fd, error_message(err))
        mon.drop_outputs()
        return False
    mon.started = time.monotonic()
    trace("started")
    return True


def mount_namespace(pid: int) -> int:
    """An fd on the container's mount namespace (-1 if it has gone already), held until this
    monitor exits, for an --rm container (see monitorexit.hold): the namespace, its mounts
    and their superblocks (proc, sysfs, the rootfs' bind...) are then torn down as we exit,
    after the remover has our EOF, rather than as the container's last process exits, before
    we are told: ~0.1-0.5 ms, an expedited RCU grace period among it, between the container's
    exit and its reaping. The pid is our child's (or our runtime child's) and not reaped yet:
    no other process can have it."""
    try:
        return os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return -1


def error_message(err: BaseException) -> str:
    code = getattr(err, "exit_code", 0) or 0
    return '{"error": %s, "code": %d}' % (quote(getattr(err, "message", None) or str(err)), code)


def quote(text: str) -> str:
    from _json import encode_basestring

    return encode_basestring(text)


def serve(mon: Monitor, sync_fd: int) -> int:
    """Run the container until it stays down; its last exit code (125: never started)."""
    from krat.engine.logs import timestamp

    if not start_container(mon, sync_fd, mon.cfg.get("attach", False)):
        return -1
    sync_send(sync_fd, '{"started": %d, "monitor": %d, "ticks": %d, "at": "%s"}'
              % (mon.pid, os.getpid(), proc_start_ticks(os.getpid()), timestamp()))
    if mon.later is not None:
        mon.later.run()   # what was not done before "go"
    codecache = sys.modules.get("krat.codecache")   # loaded only when started by a launcher
    if codecache is not None:
        codecache.release()
    if mon.cfg.get("auto_remove"):
        mon.held = hold(mon.cfg)   # now, not while the remover waits (see handoff)
        if mon.mount_ns >= 0:
            mon.held.append(mon.mount_ns)
    policy = mon.cfg.get("restart", "no")
    while True:
        mon.run_until_exit()
        if sync_fd >= 0:
            wait_ack(sync_fd)
            os.close(sync_fd)
            sync_fd = -1
        trace("exited")
        code = exit_code_of(mon.exit_status)
        oom = code == 137 and mon.oom_killed()
        fields = dict(status="exited", pid=0, exit_code=code, oom_killed=oom, finished_at=timestamp())
        if removes(mon) and mon.owner in mon.clients:
            mon.unrecorded = fields  # the owner removes the row; recorded only if it does not
            return code
        if policy in ("", "no"):
            record(mon.cfg, **fields)
            trace("recorded")
            return code
        stop = record_in_child(mon.cfg, **fields)
        mon.broadcast(EXIT, exit_payload(code, False), streaming_only=False)
        delay = restart_delay(policy, mon.cfg.get("max_retries", 0), code, mon.restart_count, stop,
                              time.monotonic() - mon.started, mon.last_delay)
        if delay is None or not restart(mon, delay):
            return code


def restart(mon: Monitor, delay: float) -> bool:
    from krat.engine.logs import timestamp

    mon.drop_outputs()
    try:
        mon.runtime.delete(mon.id, force=True)
    except Exception:
        pass
    if record_in_child(mon.cfg, status="restarting"):
        record_in_child(mon.cfg, status="exited")
        return False
    mon.last_delay = delay
    mon.sleep(delay)            # SIGUSR1 (a stop during the back-off) ends the wait early
    if record_in_child(mon.cfg):
        record_in_child(mon.cfg, status="exited")
        return False
    mon.exit_status = None
    mon.restart_count += 1
    if not start_container(mon, -1, False):
        record_in_child(mon.cfg, status="exited")
        return False
    if record_in_child(mon.cfg, status="running", pid=mon.pid, started_at=timestamp(),
                       restart_count=mon.restart_count):
        # A stop or kill came while we started it again: it saw "restarting", asked for the
        # container to stay down and signalled nothing. This process is ended now, and its
        # exit, with the stop recorded, is the last.
        try:
            mon.runtime.kill(mon.id, _signal.SIGKILL)
        except Exception:
            pass
    return True


def setup_signals(mon: Monitor) -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    _signal.set_wakeup_fd(w)
    noop = lambda *_: None  # noqa: E731  (a handler, so the wakeup fd is written)
    _signal.signal(_signal.SIGCHLD, noop)
    _signal.signal(_signal.SIGUSR1, noop)
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    _signal.signal(_signal.SIGHUP, _signal.SIG_IGN)
    mon.wake_r = r
    mon.watch(r, "wake")


def main(argv: list[str], detached: bool = False, preforked: tuple[int, int, int] | None = None) -> int:
    """detached: started by become_monitor, which detached this process and forked its runtime
    child (preforked: pid, socket fd, readiness pipe; None for another runtime)."""
    trace("python started")
    if argv[0] == "--early":
        return main_early(*early_args(argv), detached=detached, preforked=preforked)
    cfg = marshal.loads(bytes.fromhex(argv[0]))
    sync_fd = cfg.get("sync_fd", -1)
    if sync_fd >= 0:
        os.set_inheritable(sync_fd, False)  # the container must not hold the CLI's socket
    detach()
    set_subreaper()
    return run(cfg, sync_fd)


def _read_exact(fd: int, size: int) -> bytes | None:
    buf = b""
    while len(buf) < size:
        try:
            data = os.read(fd, size - len(buf))
        except InterruptedError:
            continue
        if not data:
            return None
        buf += data
    return buf


def main_early(sync_fd: int, container_id: str, cgroups_path: str, new_netns: bool = False,
               removal: bool = False, detached_run: bool = False, detached: bool = False,
               preforked: tuple[int, int, int] | None = None) -> int:
    """The monitor started by spawn_early: its runtime's create child is forked first (its
    import of krat.runtime is the longest part of getting ready for "go"): by become_monitor
    (detached, preforked), or here when the monitor was exec'ed (none for a foreground `run`:
    this process creates it, preforked is AHEAD); then wait for the config. removal: the
    command line asks for --rm; what the removal needs (preload_cleanup) loaded before that
    child is forked (krat's runtime), or while the CLI works once it is ready (see Later).
    detached_run: the command line asks for -d (see detach_and_prefork)."""
    later = Later()
    if not detached:   # exec'ed (see become_monitor)
        preforked = detach_and_prefork(sync_fd, container_id, cgroups_path, new_netns, removal, detached_run)
    if preforked is not None:
        later.ready_fd = preforked[2]
        preforked = preforked[:2]
    from krat.engine.runtimes import release_preforked
    from krat.engine.logs import LogWriter  # noqa: F401  (loaded while the CLI works)

    if removal and preforked is None:   # else loaded before the runtime's child (detach_and_prefork)
        later.job = lambda: preload_cleanup(krat_runtime=False)
    trace("waiting for config")
    later.wait(sync_fd)
    size = _read_exact(sync_fd, 4)
    blob = _read_exact(sync_fd, int.from_bytes(size, "big")) if size else None
    if blob is None:
        if preforked is not None:
            release_preforked(*preforked)   # it removes the cgroup it entered; then the CLI sees EOF
        return 0   # the CLI gave up before creating anything (bad flag, unknown image)
    trace("config")
    cfg = marshal.loads(blob)
    errfd = os.open(os.path.join(cfg["dir"], "monitor.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(errfd, 2)
    os.close(errfd)
    cfg["sync_fd"] = sync_fd
    return run(cfg, sync_fd, preforked, later)


class Later:
    """Work an early monitor has to do before its container exits but not before "go" (the
    --rm removal's imports), done while the runtime's pre-forked child does not need the CPU:
    the child's import of krat.runtime is the longest part of getting ready for "go", and on
    two cores the CLI has one. ready_fd: prefork's readiness pipe (-1: nothing to wait for)."""

    def __init__(self) -> None:
        self.ready_fd = -1
        self.job = None

    def wait(self, fd: int) -> None:
        """Until fd (the CLI's socket) is readable; the job meanwhile once the child is ready."""
        while self.ready_fd >= 0 and self.job is not None:
            try:
                ready, _, _ = select.select([fd, self.ready_fd], [], [])
            except InterruptedError:
                continue
            if fd in ready:
                return   # the CLI first: what it sent may be "go"
            self.run()

    def run(self) -> None:
        """The job now (if not done), and no more waiting for the child."""
        if self.ready_fd >= 0:
            os.close(self.ready_fd)
            self.ready_fd = -1
        job, self.job = self.job, None
        if job is not None:
            job()


def run(cfg: dict, sync_fd: int, preforked=None, later: Later | None = None) -> int:
    """Serve one container from its config: start it, follow it, clean up after it. later:
    an early monitor's deferred work (see Later)."""
    mon = Monitor(cfg)
    mon.later = later
    from krat.engine.logs import LogWriter
    from krat.engine.runtimes import make_runtime

    mon.log = LogWriter(cfg["log_path"], cfg.get("max_size", 10 << 20), cfg.get("max_file", 3))
    mon.runtime = make_runtime(cfg["runtime"], cfg["runtime_root"], preforked)
    setup_signals(mon)
    mon.listen()
    if cfg.get("go") and cfg.get("auto_remove"):
        preload = lambda: preload_cleanup(getattr(mon.runtime, "name", "") == "krat")  # noqa: E731
        if later is None or later.ready_fd < 0:
            preload()   # loaded already if guessed early
        elif later.job is None:
            later.job = preload   # --rm, not guessed from the command line
    if later is not None:
        later.wait(sync_fd)
    if cfg.get("go") and not await_go(sync_fd, cfg):
        mon._unlink("attach.sock")   # the CLI gave up before the start: nothing is ours
        discard = getattr(mon.runtime, "discard", None)
        if discard is not None:
            discard()                # a pre-forked runtime child removes its cgroup and exits
        return 0
    code = -1
    try:
        code = serve(mon, sync_fd)
    finally:
        mon.log.close()
        try:
            trace("handing over")
            if not (code >= 0 and handoff(mon, code)):
                if mon.unrecorded is not None:
                    record(mon.cfg, **mon.unrecorded)
                cleanup(mon, ran=code >= 0)
        finally:
            trace("cleaned up")
            if code >= 0:
                mon.broadcast(EXIT, exit_payload(code, True), streaming_only=False)
            for fd in list(mon.clients):
                mon.drop(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
