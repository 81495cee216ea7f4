"""Reading json-file logs back: --tail, --since, --until, -t, and following."""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from krat.engine.logs import log_files, parse_entry, parse_time
from krat.errors import InvalidArgument

if TYPE_CHECKING:
    from krat.engine.containers import Container, ContainerService


@dataclass(frozen=True)
class LogQuery:
    tail: int = -1          # -1 = all
    since: int = 0          # ns
    until: int = 0          # ns; 0 = no bound
    timestamps: bool = False

    @classmethod
    def parse(cls, tail: str, since: str, until: str, timestamps: bool) -> "LogQuery":
        if tail in ("all", ""):
            n = -1
        elif tail.lstrip("-").isdigit():
            n = int(tail)
            n = -1 if n < 0 else n
        else:
            raise InvalidArgument(f"invalid --tail {tail!r}: expected a number or 'all'")
        return cls(n, parse_time(since) if since else 0, parse_time(until) if until else 0, timestamps)

    def keep(self, ns: int) -> bool:
        return (not self.since or ns >= self.since) and (not self.until or ns <= self.until)


def _emit(entry: tuple[str, str, int, str], q: LogQuery) -> None:
    stream, text, _, stamp = entry
    out = sys.stdout.buffer if stream == "stdout" else sys.stderr.buffer
    data = text.encode("utf-8", "surrogateescape")
    if q.timestamps:
        data = stamp.encode() + b" " + data
    out.write(data)


def entries(path: str, q: LogQuery):
    for name in log_files(path):
        with open(name, encoding="utf-8", errors="replace") as f:
            for line in f:
                e = parse_entry(line)
                if e is not None and q.keep(e[2]):
                    yield e


def read(path: str, q: LogQuery) -> None:
    it = entries(path, q)
    if q.tail >= 0:
        it = deque(it, maxlen=q.tail) if q.tail else []
    for e in it:
        _emit(e, q)
    sys.stdout.flush()
    sys.stderr.flush()


def follow(svc: "ContainerService", c: "Container", q: LogQuery) -> None:
    """Print what is there, then new lines until the container stops (or --until passes)."""
    path = svc.log_path(c.id)
    read(path, q)
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except OSError:
        return
    f.seek(0, os.SEEK_END)
    inode = os.fstat(f.fileno()).st_ino
    idle = 0
    while True:
        line = f.readline()
        if line:
            e = parse_entry(line)
            if e is not None and q.keep(e[2]):
                _emit(e, q)
                sys.stdout.flush()
                sys.stderr.flush()
            continue
        if q.until and time.time_ns() > q.until:
            return
        try:
            if os.stat(path).st_ino != inode:   # rotated: continue with the new file
                f.close()
                f = open(path, encoding="utf-8", errors="replace")
                inode = os.fstat(f.fileno()).st_ino
                continue
        except OSError:
            return
        idle += 1
        if idle % 10 == 0:
            try:
                cur = svc.reconcile(svc.refresh(c))
            except Exception:
                return
            if cur.row.status not in ("running", "paused", "restarting"):
                rest = f.read()
                for ln in rest.splitlines(keepends=True):
                    e = parse_entry(ln)
                    if e is not None and q.keep(e[2]):
                        _emit(e, q)
                sys.stdout.flush()
                return
        time.sleep(0.05)
