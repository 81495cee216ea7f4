"""Docker's timestamps: RFC 3339 in UTC with nanoseconds, trailing zeros trimmed as Go's
RFC3339Nano. Its own module, with `time` only: container rows (on `run`'s path) and the
json-file logs both use it, and the log writer's module is not loaded for a row's time."""

from __future__ import annotations

import time


def timestamp(ns: int | None = None) -> str:
    """Now (or ns since the epoch) as 2006-01-02T15:04:05.999999999Z."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"
