"""The client side of a monitor's attach socket (protocol in engine/monitor.py).

Used by `run` (foreground), `start -a`, `attach`, `wait`, `stop` and `rm -f`. Streams
the container's output to local descriptors, sends stdin, resizes and detaches.
"""

from __future__ import annotations

import _socket  # not `socket`: it loads selectors, enum and array (~1.5 ms on `krat run`); see Socket
import os
import time

from krat.engine.monitorproto import EXIT, RESIZE, STDERR, STDIN, STDIN_CLOSE, STDOUT, frame, parse_frames
from krat.oci import jsoncodec as json  # not `json`: json.decoder loads re (~1 ms)

DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q


class Socket(_socket.socket):
    """The C socket with what krat uses of socket.socket's extras: `with`, and makefile("rb")
    (a buffered reader on the socket's fd, which stays the socket's to close)."""

    __slots__ = ()

    def __enter__(self) -> "Socket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def makefile(self, mode: str = "rb"):
        if mode != "rb":
            raise ValueError(f"Socket.makefile: mode {mode!r} is not supported (only 'rb')")
        return open(self.fileno(), "rb", closefd=False)


def connect(run_dir: "str | os.PathLike[str]", stream: bool, owner: bool = False, remover: bool = False) -> Socket:
    """Connect to <run_dir>/attach.sock through a directory fd (sun_path holds 108 bytes).
    owner: the foreground `run --rm` client, which removes the container itself once it
    exited (see monitor.handoff) instead of waiting for the monitor's slower teardown;
    remover: `rm -f`, which does the same for any container."""
    dirfd = os.open(run_dir, os.O_PATH | os.O_DIRECTORY)
    try:
        sock = Socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(f"/proc/self/fd/{dirfd}/attach.sock")
            sock.sendall(b"D" if remover else b"R" if owner else b"A" if stream else b"W")
        except OSError:
            sock.close()
            raise
        return sock
    finally:
        os.close(dirfd)


def _select(*args):
    """select.select, imported at the first wait: `run` connects before its "go" and waits
    only once the container started (the module ~0.1-0.2 ms before go otherwise)."""
    from select import select

    return select(*args)


class FrameReader:
    def __init__(self, sock: Socket) -> None:
        self.sock = sock
        self.buf = b""

    def feed(self) -> list[tuple[int, bytes]] | None:
        """Read what is there; None at EOF."""
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            data = b""
        if not data:
            return None
        out, self.buf = parse_frames(self.buf + data)
        return out


def wait_exit(sock: Socket, timeout: float | None, final: bool) -> int | None:
    """The exit code from the monitor; None on timeout; -1 when it closed without one
    (it was already past its last broadcast: the database has the code)."""
    reader = FrameReader(sock)
    deadline = None if timeout is None else time.monotonic() + timeout
    code = None
    while True:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if remaining == 0.0:
            return None
        ready, _, _ = _select([sock], [], [], remaining)
        if not ready:
            return None
        frames = reader.feed()
        if frames is None:
            return code if code is not None else -1
        for kind, payload in frames:
            if kind == EXIT:
                msg = json.loads(payload)
                code = msg["code"]
                if not final or msg.get("final"):
                    return code


def terminal_size() -> tuple[int, int] | None:
    """(rows, columns) of the terminal we run on (stdin's, else stdout's), for a -t process's
    pty to have from its start (process.consoleSize), as Docker's CLI passes it: resizes come
    later, and a program that reads the size first thing (`stty size`, an editor) would see
    0x0. None when neither is a terminal."""
    for fd in (0, 1):
        try:
            columns, rows = os.get_terminal_size(fd)
        except OSError:
            continue
        if rows and columns:
            return rows, columns
    return None


def send_resize(sock: Socket, fd: int) -> None:
    import fcntl
    import struct
    import termios

    try:
        packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return
    rows, cols = struct.unpack("HHHH", packed)[:2]
    sock.sendall(frame(RESIZE, struct.pack(">HH", rows, cols)))


class Session:
    """Pumps one attach session: returns the exit code, or None when the user detached."""

    def __init__(self, sock: Socket, stdin: bool, tty: bool, wait_final: bool = True,
                 in_fd: int = 0, out_fd: int = 1, err_fd: int = 2) -> None:
        self.sock, self.stdin, self.tty, self.wait_final = sock, stdin, tty, wait_final
        self.in_fd, self.out_fd, self.err_fd = in_fd, out_fd, err_fd
        self.reader = FrameReader(sock)
        self.wake_r = -1
        self.prev = b""
        self.cleanup = False   # the monitor handed the container's removal to this client

    def run(self) -> int | None:
        watch = [self.sock]
        if self.stdin:
            watch.append(self.in_fd)
        if self.wake_r >= 0:
            watch.append(self.wake_r)
        code = None
        while True:
            try:
                ready, _, _ = _select(watch, [], [])
            except InterruptedError:
                continue
            if self.wake_r in ready:
                os.read(self.wake_r, 1024)
                if self.tty:
                    send_resize(self.sock, self.in_fd)
            if self.in_fd in ready and self.stdin:
                if self.pump_stdin() is False:
                    return None
                if not self.stdin:
                    watch.remove(self.in_fd)
            if self.sock in ready:
                frames = self.reader.feed()
                if frames is None:
                    return code if code is not None else 0
                for kind, payload in frames:
                    if kind == STDOUT:
                        write_all(self.out_fd, payload)
                    elif kind == STDERR:
                        write_all(self.err_fd, payload)
                    elif kind == EXIT:
                        msg = json.loads(payload)
                        code = msg["code"]
                        self.cleanup = bool(msg.get("cleanup"))
                        if msg.get("final") or not self.wait_final:
                            return code

    def pump_stdin(self) -> bool | None:
        """Forward stdin; False when the user typed the detach keys."""
        try:
            data = os.read(self.in_fd, 65536)
        except OSError:
            data = b""
        if not data:
            self.stdin = False
            try:
                self.sock.sendall(frame(STDIN_CLOSE, b""))
            except OSError:
                pass
            return None
        if self.tty:
            seq = self.prev + data
            if DETACH_KEYS in seq:
                before = seq.split(DETACH_KEYS, 1)[0][len(self.prev):]
                if before:
                    self.sock.sendall(frame(STDIN, before))
                return False
            self.prev = data[-1:]
        try:
            self.sock.sendall(frame(STDIN, data))
        except OSError:
            pass
        return None


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            _select([], [fd], [])
            continue
        except BrokenPipeError:
            return
        view = view[n:]
