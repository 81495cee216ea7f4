"""The engine's one seam to a low-level runtime: the OCI operations on a bundle.

`Runtime` is the interface (create, start, state, kill, delete, pause, resume, exec).
`OCIRuntimeCLI` drives any binary with runc's command line (runc, crun, krat-runtime).
The monitor calls create/start/delete, so this module imports only `os` at the top:
processes are spawned with posix_spawn, and the runtime's errors are read from its
JSON log (`--log FILE --log-format json`), never from stderr, which may be the
container's.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # typing itself is too heavy for the monitor

if TYPE_CHECKING:
    from krat.engine.runtime_api import Runtime

DEFAULT_BINARY = "krat"  # krat.runtime in-process; KRAT_RUNTIME or --runtime PATH pick another


class RuntimeError_(Exception):
    """The runtime refused; `message` is its own one-line reason."""

    exit_code = 0  # Docker's code when the runtime knows it (127 not found, 126 cannot run)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def spawn_wait(argv: list[str], stdio: tuple[int, int, int] | None = None) -> int:
    """Run argv with the given stdio (default /dev/null) and wait; its exit code."""
    devnull = -1
    if stdio is None:
        devnull = os.open(os.devnull, os.O_RDWR)
        stdio = (devnull, devnull, devnull)
    actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(stdio)]
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    except OSError as err:
        raise RuntimeError_(f"cannot run {argv[0]}: {err.strerror}") from None
    finally:
        if devnull >= 0:
            os.close(devnull)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        except InterruptedError:
            continue


class OCIRuntimeCLI:
    """A runtime binary with runc's CLI. `root` is its state directory (runc --root)."""

    def __init__(self, binary: str, root: str) -> None:
        self.binary = binary
        self.root = root

    def _argv(self, log: str | None) -> list[str]:
        argv = [self.binary, "--root", self.root]
        if log:
            argv += ["--log", log, "--log-format", "json"]
        return argv

    def _call(self, *args: str, stdio: tuple[int, int, int] | None = None, log: str | None = None) -> None:
        own_log = log is None
        if own_log:
            os.makedirs(self.root, exist_ok=True)
            log = os.path.join(self.root, f".{os.getpid()}-{args[0]}.log")
        try:
            code = spawn_wait(self._argv(log) + list(args), stdio)
            if code != 0:
                raise RuntimeError_(read_log_error(log) or f"{self.binary} {args[0]} exited {code}")
        finally:
            if own_log:
                try:
                    os.unlink(log)
                except OSError:
                    pass

    def create(self, container_id: str, bundle: str, *, stdio: tuple[int, int, int],
               console_socket: str | None = None) -> int:
        pid_file = os.path.join(bundle, "pid")
        args = ["create", "--bundle", bundle, "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        self._call(*args, container_id, stdio=stdio, log=os.path.join(bundle, "runtime.log"))
        with open(pid_file) as f:
            return int(f.read().strip())

    def start(self, container_id: str) -> None:
        self._call("start", container_id)

    def state(self, container_id: str) -> dict | None:
        import json
        import subprocess

        proc = subprocess.run(self._argv(None) + ["state", container_id], capture_output=True, text=True)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def kill(self, container_id: str, signal: int, all_processes: bool = False) -> None:
        self._call("kill", *(["--all"] if all_processes else []), container_id, str(signal))

    def delete(self, container_id: str, force: bool = False) -> None:
        self._call("delete", *(["--force"] if force else []), container_id)

    def pause(self, container_id: str) -> None:
        self._call("pause", container_id)

    def resume(self, container_id: str) -> None:
        self._call("resume", container_id)

    def exec_argv(self, container_id: str, process_file: str, *, tty: bool, detach: bool,
                  log: str | None = None) -> list[str]:
        argv = self._argv(log) + ["exec", "--process", process_file]
        if detach:
            argv.append("--detach")
        return argv + [container_id]


def read_log_error(path: str) -> str:
    """The last error-level message of a runtime's JSON log (runc --log-format json)."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    import json

    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
            return str(entry.get("msg", ""))
    return ""


def classify(message: str) -> int:
    """Docker's exit codes for a failed start: 127 not found, 126 cannot run, else 125."""
    low = message.lower()
    if "executable file not found" in low or "no such file or directory" in low:
        return 127
    if "permission denied" in low or "exec format error" in low or "is a directory" in low:
        return 126
    return 125


def make_runtime(binary: str, state_root: str, preforked: "tuple[int, int] | None" = None) -> Runtime:
    """preforked: a create child from prefork(), used by krat's runtime, let go by any other."""
    if binary in ("", "krat"):
        return KratRuntime(state_root, preforked)
    if preforked is not None:
        release_preforked(*preforked)
    return OCIRuntimeCLI(binary, state_root)


def open_runtime(binary: str, runroot: str) -> Runtime:
    """The runtime named by a container's spec: "" or "krat" for krat's own (in-process), else
    the path or name of an OCI runtime binary with runc's CLI."""
    from krat.engine.config import state_root  # here, not at the top: the monitor imports this module

    return make_runtime(binary, state_root(binary, runroot))


class KratRuntime:
    """krat's own runtime (krat.runtime), called in-process: no second interpreter starts.

    create and start run in a forked child of the caller: the monitor stays small
    (krat.runtime's create is never imported into it), the container's process is
    re-parented to the monitor (a subreaper) when that child exits, and the child's error
    comes back through a pipe as "exit-code<TAB>message". Except the first create of the
    early monitor of a foreground `run` (create_ahead): it runs in the monitor itself, with
    the init the monitor forked ahead, ~1.5 ms sooner for the `run` that waits, for ~1.4 MiB
    more in that monitor.
    """

    name = "krat"

    def __init__(self, root: str, preforked: tuple[int, int] | None = None) -> None:
        self.root = root
        self._pending: tuple[int, int, int] | None = None   # (child pid, go fd, answer fd)
        self._ahead = preforked == AHEAD[:2]   # create_ahead made the init: create here
        self._preforked = None if self._ahead else preforked
        self._started_at_once = False
        self._started_here = False   # _create_here(start=True) done: start() records it
        self._rest = b""   # what the child wrote after its create answer

    starts_at_once = True   # create(start=True): see there

    def create(self, container_id: str, bundle: str, *, stdio: tuple[int, int, int],
               console_socket: str | None = None, start: bool = False) -> int:
        """Create in a forked child that then waits to start it: krat.runtime is imported once
        (a child from prefork() has done so already and gets the request over its socket).
        start=True: the child starts the container right after creating it, without waiting
        for start() (which then only collects the outcome): for a caller with nothing to do
        in between that the container must wait for, two round trips fewer."""
        if self._ahead:
            self._ahead = False
            return self._create_here(container_id, bundle, stdio, console_socket, start)
        if self._preforked is not None:
            pid, fd = self._preforked
            self._preforked = None
            self._pending = (pid, os.dup(fd), fd)
            _send_request(fd, (container_id, bundle, self.root, console_socket, start), stdio)
        else:
            go_r, go_w = os.pipe()
            ans_r, ans_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(go_w)
                os.close(ans_r)
                _create_then_start(container_id, bundle, self.root, stdio, console_socket, go_r, ans_w, start)
            os.close(go_r)
            os.close(ans_w)
            self._pending = (pid, go_w, ans_r)
        self._started_at_once = start
        try:
            text, self._rest = _answer(self._pending[2])
            return int(text)
        except BaseException:
            self._finish_child()
            raise

    def _create_here(self, container_id: str, bundle: str, stdio: tuple[int, int, int],
                     console_socket: str | None, start: bool) -> int:
        """create (start=True: and let it run) in this process, with the init it forked ahead
        (create_ahead); a failure as a create child would report it. Without the cyclic
        garbage collector meanwhile, as `run` sets up: a pass would walk the spec's young
        objects on the way to "started"."""
        import gc

        import krat.runtime as rt

        collect = gc.isenabled()
        gc.disable()
        try:
            pid = _here(rt.create, container_id, bundle, self.root, stdio=stdio, console_socket=console_socket,
                        start=start)
        finally:
            if collect:
                gc.enable()
        self._started_here = start
        return pid

    def discard(self) -> None:
        """Let an unused pre-forked create child go and wait until it has (see prefork), or
        the init made ahead here and its cgroup (create_ahead)."""
        if self._ahead:
            self._ahead = False
            release_ahead()
        if self._preforked is not None:
            release_preforked(*self._preforked)
            self._preforked = None

    def start(self, container_id: str) -> None:
        if self._started_here:   # created here with start=True: it runs; its state says so now
            self._started_here = False
            import krat.runtime as rt

            _here(rt.start, container_id, self.root)
            return
        if self._pending is None:
            def act() -> str:
                import krat.runtime as rt

                rt.start(container_id, self.root)
                return ""
            in_child(act)
            return
        if not self._started_at_once:
            os.write(self._pending[1], b"s")
        try:
            _answer(self._pending[2], self._rest)
        except BaseException:
            self._finish_child()
            raise
        self._finish_child(wait=False)

    def _finish_child(self, wait: bool = True) -> None:
        """Let the create/start child go (EOF on its go pipe) and reap it. wait=False: it has
        answered and exits by itself; the caller, a subreaper that reaps every child (the
        monitor), need not wait for its exit before going on."""
        if self._pending is None:
            return
        pid, go_w, ans_r = self._pending
        self._pending = None
        os.close(go_w)
        os.close(ans_r)
        if not wait:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            return
        while True:
            try:
                os.waitpid(pid, 0)
                return
            except InterruptedError:
                continue
            except ChildProcessError:
                return

    def state(self, container_id: str) -> dict | None:
        import krat.runtime as rt
        from krat.errors import KratError

        try:
            return rt.state(container_id, self.root).to_json()
        except KratError:
            return None

    def _call(self, op: str, *args) -> None:
        import krat.runtime as rt
        from krat.errors import KratError

        try:
            getattr(rt, op)(*args)
        except KratError as err:
            raise RuntimeError_(err.message) from None

    def kill(self, container_id: str, signal: int, all_processes: bool = False) -> None:
        self._call("kill", container_id, signal, all_processes, self.root)

    def delete(self, container_id: str, force: bool = False) -> None:
        self._finish_child()
        self._call("delete", container_id, force, self.root)

    def pause(self, container_id: str) -> None:
        self._call("pause", container_id, self.root)

    def resume(self, container_id: str) -> None:
        self._call("resume", container_id, self.root)

    def exec_argv(self, container_id: str, process_file: str, *, tty: bool, detach: bool,
                  log: str | None = None) -> list[str]:
        import sys

        argv = [sys.executable, "-m", "krat.runtime.cli", "--root", self.root]
        if log:
            argv += ["--log", log, "--log-format", "json"]
        return argv + ["exec", "--process", process_file] + (["--detach"] if detach else []) + [container_id]


def _create_then_start(cid: str, bundle: str, root: str, stdio, console_socket, go_r: int, ans_w: int,
                       at_once: bool = False) -> None:
    """The forked child of KratRuntime.create: create, answer, wait for b"s" (unless at_once),
    start, answer."""
    code = 0
    try:
        import krat.runtime as rt

        try:
            os.write(ans_w, _line("0", str(rt.create(cid, bundle, root, stdio=stdio, console_socket=console_socket,
                                                     start=at_once))))
        except BaseException as err:
            os.write(ans_w, _line(str(getattr(err, "exit_code", 125)), getattr(err, "message", None) or str(err)))
            code = 1
            return
        if not at_once and os.read(go_r, 1) != b"s":
            return  # the monitor gave up before starting: delete() cleans up
        try:
            rt.start(cid, root)
            os.write(ans_w, _line("0", ""))
        except BaseException as err:
            os.write(ans_w, _line(str(getattr(err, "exit_code", 125)), getattr(err, "message", None) or str(err)))
            code = 1
    finally:
        os._exit(code)


def prefork(container_id: str, cgroups_path: str, close: tuple[int, ...] = (),
            new_netns: bool = False) -> tuple[int, int, int]:
    """Fork KratRuntime.create's child ahead of the request: it imports krat.runtime and
    enters the container's cgroup while the caller waits for the container to be prepared.
    Returns (pid, the caller's socket fd, a pipe that turns readable once the child is ready
    for the request: a byte, or EOF if it died; the caller closes it); the request arrives
    with its stdio fds (SCM_RIGHTS); EOF instead: the child leaves and removes the cgroup,
    and exits. close: the caller's fds the child must not hold. new_netns: the container is
    expected to get a network namespace of its own (see earlyinit.fork_early)."""
    import _socket

    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        ours.close()
        os.close(ready_r)
        for fd in close:
            os.close(fd)
        _serve_request(theirs.detach(), container_id, cgroups_path, new_netns, ready_w)
    theirs.close()
    os.close(ready_w)
    return pid, ours.detach(), ready_r


def _send_request(fd: int, request: tuple, stdio: tuple[int, int, int]) -> None:
    import _socket
    import marshal
    import sys

    # The fds as C ints by hand: struct (struct.py, not loaded in the monitor) would be
    # found and loaded here, right after "go" (~0.3 ms).
    fds = b"".join(n.to_bytes(4, sys.byteorder, signed=True) for n in stdio)
    sock = _socket.socket(fileno=os.dup(fd))
    try:
        sock.sendmsg([marshal.dumps(request)], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    finally:
        sock.close()


def _serve_request(fd: int, container_id: str, cgroups_path: str, new_netns: bool = False,
                   ready_w: int = -1) -> None:
    """The pre-forked child: import krat.runtime, enter the cgroup, fork the early init, say
    so on ready_w, receive one request, create and start.

    Without the cyclic garbage collector, as `run` sets up: this child lives until the start
    and the init it forks until its execve, and a pass (a few during the imports, one in each
    of them as they parse the spec) walks young objects for nothing, on the path to "started"."""
    import gc

    gc.disable()
    code = 1
    try:
        import _socket
        import _struct as struct  # struct.py only re-exports it
        import marshal

        creation, earlyinit = _load_create()
        joined = creation.enter_cgroup(container_id, cgroups_path)
        from krat.engine.monitorspawn import restore_affinity

        restore_affinity()   # the init inherits it: the CPU mask `run` had (see monitorspawn._set_apart)
        if joined:   # the container's init, forked ahead
            earlyinit.fork_early(close=(fd, ready_w) if ready_w >= 0 else (fd,), new_netns=new_netns)
        if ready_w >= 0:
            try:
                os.write(ready_w, b"r")
            except OSError:
                pass   # the monitor no longer asks
            os.close(ready_w)
        sock = _socket.socket(fileno=fd)
        data, anc, _, _ = sock.recvmsg(65536, _socket.CMSG_SPACE(3 * 4))
        sock.detach()
        if not data:
            earlyinit.release()
            if joined:
                creation.leave_cgroup(container_id, cgroups_path)
            code = 0
            return   # the monitor gave up (its CLI failed before creating anything)
        cid, bundle, root, console_socket, at_once = marshal.loads(data)
        stdio = struct.unpack("3i", anc[0][2][:12])
        _create_then_start(cid, bundle, root, stdio, console_socket, fd, fd, at_once)
    finally:
        os._exit(code)


def _load_create():
    """krat.runtime's create, loaded ahead of the request (creation and earlyinit returned)."""
    import krat.runtime as rt
    from krat.runtime import creation, earlyinit, seccomp  # noqa: F401  (seccomp: for linux.seccomp)

    rt.start  # noqa: B018  (loads krat.runtime's modules now, not on request)
    return creation, earlyinit


def _here(operation, *args, **kwargs):
    """A runtime operation in this process, its failure as a create child would report it
    (RuntimeError_: the runtime's one-line message, Docker's exit code)."""
    try:
        return operation(*args, **kwargs)
    except BaseException as err:
        failure = RuntimeError_(getattr(err, "message", None) or str(err))
        failure.exit_code = getattr(err, "exit_code", 125) or 125
        raise failure from None


# What prefork's caller gets instead when it will create the container itself (create_ahead):
# no child, no socket, no readiness to wait for.
AHEAD = (0, -1, -1)
_ahead: tuple[str, str] | None = None   # create_ahead's (container id, cgroups path)


def create_ahead(container_id: str, cgroups_path: str, close: tuple[int, ...] = (),
                 new_netns: bool = False) -> tuple[int, int, int] | None:
    """prefork's work in this process instead of a child (an early monitor of a foreground
    `run`): import krat.runtime, make the container's cgroup, and fork its init ahead, which
    moves itself into that cgroup (earlyinit.fork_early's join), so that this process, which
    outlives the container, stays outside it. The create then runs here (KratRuntime with
    AHEAD): no create child to fork, start and end, no request and answer between us: ~2 ms
    of CPU before "go" and ~0.5 ms after, ~1.5 ms of a `run --rm`, for ~1.4 MiB more in the
    monitor while it lives (krat.runtime's create code; a detached container's monitor,
    which may idle for days, keeps prefork's child instead). AHEAD, or None if nothing could
    be done ahead (the caller then preforks a child as for a detached run). close: our fds
    the init must not hold. Undo with release_ahead if the create never comes."""
    global _ahead
    from krat.engine.monitorspawn import restore_affinity

    creation, earlyinit = _load_create()
    restore_affinity()   # the init inherits it: the CPU mask `run` had (see monitorspawn._set_apart)
    cgroup = creation.make_cgroup(container_id, cgroups_path)
    if cgroup is None:
        return None
    _ahead = (container_id, cgroups_path)
    if not earlyinit.fork_early(close=close, new_netns=new_netns, join=cgroup):
        release_ahead()
        return None
    return AHEAD


def release_ahead() -> None:
    """Let the init made ahead here go, and remove the cgroup made for it (see create_ahead)."""
    global _ahead
    from krat.runtime import creation, earlyinit

    earlyinit.release()
    if _ahead is not None:
        creation.leave_cgroup(*_ahead)
        _ahead = None


def release_preforked(pid: int, fd: int) -> None:
    """Let an unused pre-forked child go (EOF) and reap it; AHEAD's: release_ahead."""
    if (pid, fd) == AHEAD[:2]:
        release_ahead()
        return
    os.close(fd)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _line(code: str, text: str) -> bytes:
    return f"{code}\t{text.replace(chr(10), ' ')}\n".encode()


def _answer(fd: int, rest: bytes = b"") -> tuple[str, bytes]:
    """One answer line from the child, and what followed it (create(start=True)'s second
    answer may come in the same read). Not EOF: the container's process holds the pipe too."""
    buf = rest
    while b"\n" not in buf:
        try:
            data = os.read(fd, 4096)
        except InterruptedError:
            continue
        if not data:
            break
        buf += data
    line, _, rest = buf.partition(b"\n")
    code, _, text = line.decode(errors="replace").partition("\t")
    if code != "0":
        err = RuntimeError_(text or "the runtime's helper exited without an answer")
        err.exit_code = int(code) if code.isdigit() else 125
        raise err
    return text, rest


def in_child(act) -> str:
    """Run act() in a forked child; its string result, or RuntimeError_ with its error."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            out = "0\t" + act()
        except BaseException as err:  # everything goes back to the parent as text
            out = f"{getattr(err, 'exit_code', 125)}\t{getattr(err, 'message', None) or err}"
            code = 1
        try:
            os.write(w, out.encode())
        finally:
            os._exit(code)
    os.close(w)
    # Wait for the child, not for EOF: the container's process (forked by the child) holds
    # the write end until it execs. The answer is small; it waits in the pipe's buffer.
    while True:
        try:
            os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    os.set_blocking(r, False)
    chunks = []
    while True:
        try:
            data = os.read(r, 65536)
        except BlockingIOError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(r)
    code, _, text = b"".join(chunks).decode(errors="replace").partition("\t")
    if code != "0":
        err = RuntimeError_(text or "the runtime failed without a message")
        err.exit_code = int(code) if code.isdigit() else 125
        raise err
    return text
