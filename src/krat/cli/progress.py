"""Per-layer transfer progress: redrawn bars on a terminal, one line per change otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from krat.engine.transfers import Event, Status

BAR_WIDTH = 30
REDRAW_S = 0.1
_MOVING = (Status.DOWNLOADING, Status.PUSHING)


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n:.3g}GB"


class ProgressPrinter:
    """A thread-safe transfer listener. quiet: print nothing; tty: bars with bytes and speed."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False, tty: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.tty = self.stream.isatty() if tty is None else tty
        self.order: list[str] = []
        self.lines: dict[str, str] = {}
        self.last_status: dict[str, Status] = {}
        self.started: dict[str, float] = {}
        self.drawn = 0
        self.last_draw = 0.0
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        with self.lock:
            if event.id not in self.lines:
                self.order.append(event.id)
                self.started[event.id] = time.monotonic()  # speed counts from the first event
            changed = self.last_status.get(event.id) is not event.status
            self.last_status[event.id] = event.status
            self.lines[event.id] = self._line(event)
            if self.tty:
                if changed or time.monotonic() - self.last_draw >= REDRAW_S:
                    self._redraw()
            elif changed:
                self.stream.write(self._plain(event) + "\n")
                self.stream.flush()

    def _line(self, event: Event) -> str:
        text = f"{event.id}: {event.status.value}"
        if event.status is Status.MOUNTED and event.detail:
            return f"{text} {event.detail}"
        if event.status in _MOVING and event.total:
            start = self.started.get(event.id, time.monotonic())
            filled = int(BAR_WIDTH * min(event.current, event.total) / event.total)
            bar = "=" * max(filled - 1, 0) + (">" if filled else "") + " " * (BAR_WIDTH - filled)
            elapsed = max(time.monotonic() - start, 1e-3)
            speed = human(event.current / elapsed) + "/s"
            return f"{text} [{bar}] {human(event.current)}/{human(event.total)} {speed}"
        return text

    def _plain(self, event: Event) -> str:
        if event.status is Status.MOUNTED and event.detail:
            return f"{event.id}: {event.status.value} {event.detail}"
        return f"{event.id}: {event.status.value}"

    def _redraw(self) -> None:
        out = []
        if self.drawn:
            out.append(f"\x1b[{self.drawn}A")
        for key in self.order:
            out.append("\x1b[2K" + self.lines[key] + "\n")
        self.stream.write("".join(out))
        self.stream.flush()
        self.drawn = len(self.order)
        self.last_draw = time.monotonic()

    def finish(self, status: Status | None = None) -> None:
        """Mark every layer `status` (e.g. Pull complete) and leave the final picture."""
        if self.quiet:
            return
        with self.lock:
            if status is not None:
                for key in self.order:
                    if self.last_status.get(key) in (Status.DOWNLOAD_COMPLETE, Status.DOWNLOADING):
                        self.last_status[key] = status
                        self.lines[key] = f"{key}: {status.value}"
                        if not self.tty:
                            self.stream.write(self.lines[key] + "\n")
            if self.tty and self.order:
                self._redraw()
            self.stream.flush()
