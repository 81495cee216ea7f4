"""Container logs in Docker's json-file format, rotated.

One JSON object per line: {"log": "<text with its \\n>", "stream": "stdout|stderr",
"time": "<RFC 3339 nano, UTC>"}. Lines longer than 16 KiB are split into partial
messages (only the last part carries the \\n). Files are <id>-json.log, rotated to
.1, .2, ... when a write would pass max_size; max_file counts all files.
The writer runs inside the monitor: standard library only.
"""

from __future__ import annotations

import os
import time
from _json import encode_basestring  # the C encoder: `json` would pull `re` into the monitor

from krat.engine.clock import timestamp  # noqa: F401  (also krat.engine.logs.timestamp, as its users import it)

PARTIAL_MAX = 16 * 1024


class LogWriter:
    def __init__(self, path: str, max_size: int = 10 << 20, max_file: int = 3) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size
        self.pending = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        buf = self.pending[stream] + data
        out = []
        while True:
            nl = buf.find(b"\n")
            if nl == -1 or nl >= PARTIAL_MAX:
                if len(buf) >= PARTIAL_MAX:
                    out.append(buf[:PARTIAL_MAX])
                    buf = buf[PARTIAL_MAX:]
                    continue
                break
            out.append(buf[: nl + 1])
            buf = buf[nl + 1:]
        self.pending[stream] = buf
        for chunk in out:
            self._emit(stream, chunk)

    def flush(self) -> None:
        for stream, buf in self.pending.items():
            if buf:
                self._emit(stream, buf)
                self.pending[stream] = b""

    def _emit(self, stream: str, chunk: bytes) -> None:
        text = encode_basestring(chunk.decode("utf-8", "replace"))
        line = f'{{"log":{text},"stream":"{stream}","time":"{timestamp()}"}}\n'
        raw = line.encode()
        if self.max_size and self.size + len(raw) > self.max_size and self.size > 0:
            self._rotate()
        os.write(self.fd, raw)
        self.size += len(raw)

    def _rotate(self) -> None:
        os.close(self.fd)
        if self.max_file == 1:
            os.truncate(self.path, 0)
        else:
            for n in range(self.max_file - 1, 0, -1):
                src = self.path if n == 1 else f"{self.path}.{n - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{n}")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.size = 0

    def close(self) -> None:
        self.flush()
        os.close(self.fd)


def log_files(path: str) -> list[str]:
    """Oldest first: <path>.N ... <path>.1, <path>."""
    rotated = []
    n = 1
    while os.path.exists(f"{path}.{n}"):
        rotated.append(f"{path}.{n}")
        n += 1
    return list(reversed(rotated)) + ([path] if os.path.exists(path) else [])


def parse_time(text: str) -> int:
    """RFC 3339 (any fraction) or a Unix timestamp or a Go duration like 10m -> ns since epoch."""
    import calendar
    import re

    text = text.strip()
    m = re.fullmatch(r"(\d+)(ns|us|ms|s|m|h)", text)
    if m:
        mult = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}[m.group(2)]
        return time.time_ns() - int(m.group(1)) * mult
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return int(float(text) * 1e9)
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?)?(Z|[+-]\d\d:\d\d)?", text)
    if not m:
        from krat.errors import InvalidArgument

        raise InvalidArgument(f"invalid time {text!r}: expected RFC 3339, a Unix timestamp or a duration like 10m")
    clock = m.group(2) or "00:00:00"
    if clock.count(":") == 1:
        clock += ":00"
    secs = calendar.timegm(time.strptime(f"{m.group(1)}T{clock}", "%Y-%m-%dT%H:%M:%S"))
    frac = int((m.group(3) or "0").ljust(9, "0")[:9])
    tz = m.group(4) or "Z"
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        secs -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return secs * 10**9 + frac


def parse_entry(line: str) -> tuple[str, str, int, str] | None:
    """(stream, text, ns, time text) of one json-file line."""
    import json

    try:
        entry = json.loads(line)
    except ValueError:
        return None
    stamp = entry.get("time", "")
    return entry.get("stream", "stdout"), entry.get("log", ""), parse_time(stamp) if stamp else 0, stamp
