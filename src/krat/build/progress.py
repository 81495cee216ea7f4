"""Build progress: plain lines (logs, CI) or a live step list on a terminal.

Plain, like BuildKit's `--progress=plain`:

    #3 [build 2/6] RUN pip install -r requirements.txt
    #3 0.412 Collecting flask
    #3 DONE 2.1s
    #4 [build 3/6] COPY app.py .
    #4 CACHED

With explain on, every step also says why it ran: `#4 MISS: file app.py changed`.
On a terminal the running step shows a live timer and finished steps their times.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol, TextIO


@dataclass
class Step:
    number: int
    stage: str
    line: int
    text: str
    total: int
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    cached: bool = False
    reason: str | None = None

    @property
    def title(self) -> str:
        stage = f"{self.stage} " if self.stage else ""
        return f"[{stage}{self.number}/{self.total}] {_one_line(self.text)}"


def _one_line(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Progress(Protocol):
    def begin(self, step: Step) -> None: ...
    def output(self, step: Step, data: bytes) -> None: ...
    def end(self, step: Step) -> None: ...
    def failed(self, step: Step, tail: list[str]) -> None: ...
    def warn(self, message: str) -> None: ...
    def close(self) -> None: ...


class PlainProgress:
    def __init__(self, out: TextIO | None = None, explain: bool = False) -> None:
        self.out = out or sys.stderr
        self.explain = explain
        self._partial: dict[int, bytes] = {}

    def close(self) -> None:
        pass

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def begin(self, step: Step) -> None:
        step.started = time.monotonic()
        self._write(f"#{step.number} {step.title}\n")

    def output(self, step: Step, data: bytes) -> None:
        buf = self._partial.get(step.number, b"") + data
        *lines, rest = buf.split(b"\n")
        self._partial[step.number] = rest
        elapsed = time.monotonic() - step.started
        for line in lines:
            self._write(f"#{step.number} {elapsed:.3f} {line.decode(errors='replace')}\n")

    def end(self, step: Step) -> None:
        step.seconds = time.monotonic() - step.started
        rest = self._partial.pop(step.number, b"")
        if rest:
            self.output(step, rest + b"\n")
        if self.explain and step.reason and not step.text.startswith("FROM "):
            self._write(f"#{step.number} MISS: {step.reason}\n")
        self._write(f"#{step.number} CACHED\n" if step.cached else f"#{step.number} DONE {step.seconds:.1f}s\n")

    def failed(self, step: Step, tail: list[str]) -> None:
        step.seconds = time.monotonic() - step.started
        self._write(f"#{step.number} ERROR after {step.seconds:.1f}s\n")

    def warn(self, message: str) -> None:
        self._write(f"WARNING: {message}\n")


class QuietProgress(PlainProgress):
    """-q: nothing but the image id on success; the failing step's last lines on error."""

    def begin(self, step: Step) -> None:
        step.started = time.monotonic()

    def output(self, step: Step, data: bytes) -> None:
        pass

    def end(self, step: Step) -> None:
        step.seconds = time.monotonic() - step.started
        if self.explain and step.reason and not step.text.startswith("FROM "):
            self._write(f"#{step.number} {step.title}: MISS: {step.reason}\n")

    def failed(self, step: Step, tail: list[str]) -> None:
        self._write(f"#{step.number} {step.title}\n")
        for line in tail:
            self._write(f"#{step.number} {line}\n")


class TtyProgress(PlainProgress):
    """A live list: finished steps stay with their times; the running one ticks."""

    BOLD, DIM, BLUE, RESET = "\x1b[1m", "\x1b[2m", "\x1b[34m", "\x1b[0m"

    TICK_S = 0.1

    def __init__(self, out: TextIO | None = None, explain: bool = False) -> None:
        super().__init__(out, explain)
        self.current: Step | None = None
        self.started = time.monotonic()
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def _write(self, text: str) -> None:
        with self.lock:
            super()._write(text)

    def _status(self) -> None:
        with self.lock:
            if self.current is None:
                return
            step = self.current
            elapsed = time.monotonic() - step.started
            self._write(f"\r\x1b[K{self.BLUE}=> {step.title} {elapsed:.1f}s{self.RESET}")

    def _tick(self) -> None:
        while not self._stop.wait(self.TICK_S):
            self._status()

    def begin(self, step: Step) -> None:
        step.started = time.monotonic()
        self.current = step
        self._status()
        if self._ticker is None:  # the running step's timer moves even while it prints nothing
            self._ticker = threading.Thread(target=self._tick, name="krat-progress", daemon=True)
            self._ticker.start()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()

    def output(self, step: Step, data: bytes) -> None:
        buf = self._partial.get(step.number, b"") + data
        *lines, rest = buf.split(b"\n")
        self._partial[step.number] = rest
        for line in lines:
            self._write(f"\r\x1b[K{self.DIM}#{step.number} {line.decode(errors='replace')}{self.RESET}\n")
        self._status()

    def end(self, step: Step) -> None:
        step.seconds = time.monotonic() - step.started
        self._partial.pop(step.number, None)
        with self.lock:
            self.current = None
        state = "CACHED" if step.cached else f"{step.seconds:.1f}s"
        why = f" {self.DIM}({step.reason}){self.RESET}" if self.explain and step.reason and \
            not step.text.startswith("FROM ") else ""
        self._write(f"\r\x1b[K=> {step.title} {self.BOLD}{state}{self.RESET}{why}\n")

    def failed(self, step: Step, tail: list[str]) -> None:
        self.current = None
        self._write(f"\r\x1b[K=> ERROR {step.title}\n")

    def warn(self, message: str) -> None:
        self._write(f"\r\x1b[KWARNING: {message}\n")


class JsonStreamProgress:
    """Docker Engine API `POST /build` messages (the classic builder's), one JSON object each.

    `emit(obj)` receives {"stream": ...} objects as steps run; the caller adds
    {"aux": {"ID": id}} and the "Successfully built/tagged" lines (see `finished`) or
    {"errorDetail": ..., "error": ...} (see `error`). docker-py and compose read these.
    """

    def __init__(self, emit, explain: bool = False) -> None:
        self.emit = emit
        self.explain = explain

    def begin(self, step: Step) -> None:
        step.started = time.monotonic()
        self.emit({"stream": f"Step {step.number}/{step.total} : {_one_line(step.text, 1000)}\n"})

    def output(self, step: Step, data: bytes) -> None:
        self.emit({"stream": data.decode(errors="replace")})

    def end(self, step: Step) -> None:
        step.seconds = time.monotonic() - step.started
        if step.cached and not step.text.startswith("FROM "):
            self.emit({"stream": " ---> Using cache\n"})
        elif self.explain and step.reason:
            self.emit({"stream": f" ---> Cache miss: {step.reason}\n"})

    def failed(self, step: Step, tail: list[str]) -> None:
        pass

    def warn(self, message: str) -> None:
        self.emit({"stream": f"[Warning] {message}\n"})

    def close(self) -> None:
        pass

    def finished(self, image_id: str, tags: list[str]) -> None:
        self.emit({"aux": {"ID": image_id}})
        self.emit({"stream": f"Successfully built {image_id.split(':', 1)[-1][:12]}\n"})
        for tag in tags:
            self.emit({"stream": f"Successfully tagged {tag}\n"})

    def error(self, message: str, code: int = 1) -> None:
        self.emit({"errorDetail": {"code": code, "message": message}, "error": message})
