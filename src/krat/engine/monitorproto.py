"""The attach socket's framing, shared by the monitor and its clients (see monitor.py).

Standard library only, and only `os`: the monitor imports this. HandOver is the remover's
side of monitor.handoff (`run --rm`'s client, `rm -f`).
"""

from __future__ import annotations

STDIN, STDOUT, STDERR, EXIT, STDIN_CLOSE, RESIZE = 0, 1, 2, 3, 4, 5
REMOVING, RELEASED = 7, 8  # the removal's hand-over (monitor.handoff); 6 was its older REMOVED
HEADER_SIZE = 5


def frame(kind: int, payload: bytes) -> bytes:
    return bytes((kind,)) + len(payload).to_bytes(4, "big") + payload


def parse_frames(buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    out = []
    while len(buf) >= HEADER_SIZE:
        size = int.from_bytes(buf[1:5], "big")
        if len(buf) < HEADER_SIZE + size:
            break
        out.append((buf[0], buf[HEADER_SIZE: HEADER_SIZE + size]))
        buf = buf[HEADER_SIZE + size:]
    return out, buf


def exit_payload(code: int, final: bool, cleanup: bool = False) -> bytes:
    text = '{"code": %d, "final": %s' % (code, "true" if final else "false")
    return (text + (', "cleanup": true}' if cleanup else "}")).encode()


def proc_start_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


class HandOver:
    """The remover's side of monitor.handoff: what the monitor has sent so far."""

    def __init__(self, sock) -> None:
        self.sock, self.buf, self.seen, self.eof = sock, b"", set(), False
        self.final: dict | None = None   # the final exit frame's payload

    def send(self, kind: int) -> None:
        try:
            self.sock.sendall(frame(kind, b""))
        except OSError:
            pass

    def wait(self, kind: int, timeout: float = 30.0) -> bool:
        """Until the monitor has sent a frame of `kind`; False at its EOF (or the timeout)."""
        self._read(lambda: kind in self.seen, timeout)
        return kind in self.seen

    def final_exit(self, timeout: float) -> dict | None:
        """The final exit frame's payload ({"code", "final", "cleanup"}); None at EOF first."""
        self._read(lambda: self.final is not None, timeout)
        return self.final

    def _read(self, done, timeout: float) -> None:
        self.sock.settimeout(timeout)
        while not done() and not self.eof:
            try:
                data = self.sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                self.eof = True
                return
            frames, self.buf = parse_frames(self.buf + data)
            for kind, payload in frames:
                self.seen.add(kind)
                if kind == EXIT and self.final is None:
                    from krat.oci import jsoncodec as json

                    msg = json.loads(payload)
                    self.final = msg if msg.get("final") else None
