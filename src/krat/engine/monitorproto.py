"""The attach socket's framing, shared by the monitor and its clients (see monitor.py).

Standard library only, and only `os`: the monitor imports this.
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
