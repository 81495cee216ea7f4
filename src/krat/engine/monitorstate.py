"""The monitor's decisions and records: Docker's restart back-off (pure), the database
writes, which run in-process at the end of a container's life or in a forked child while
it may still restart (so a long-lived monitor never holds sqlite), and its KRAT_TRACE
marks. Imports only `os` and `time` at the top: the monitor imports this.
"""

from __future__ import annotations

import os
import time

BACKOFF_START, BACKOFF_MAX, BACKOFF_RESET_AFTER = 0.1, 60.0, 10.0


def restart_delay(policy: str, max_retries: int, exit_code: int, restart_count: int,
                  stop_requested: bool, ran_for: float, last_delay: float) -> float | None:
    """Seconds to wait before restarting, or None to stay down (Docker's restart manager)."""
    if stop_requested or policy in ("", "no"):
        return None
    if policy == "on-failure":
        if exit_code == 0 or (max_retries and restart_count >= max_retries):
            return None
    elif policy not in ("always", "unless-stopped"):
        return None
    if ran_for >= BACKOFF_RESET_AFTER or last_delay <= 0:
        return BACKOFF_START
    return min(last_delay * 2, BACKOFF_MAX)


def open_db(cfg: dict):
    from krat.db import open_database

    return open_database(cfg["db"])


def record(cfg: dict, **fields) -> bool:
    """Apply state fields; returns the container's stop_requested flag (True if it is gone)."""
    from krat.db import containers

    db = open_db(cfg)
    try:
        if fields:
            containers.update_state(db, cfg["id"], None, **fields)
        row = containers.get(db, cfg["id"])
        return row is None or row.stop_requested
    finally:
        db.close()


def record_in_child(cfg: dict, **fields) -> bool:
    """record() in a forked child, so this long-lived process never loads sqlite."""
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            code = 1 if record(cfg, **fields) else 0
        finally:
            os._exit(code)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    return os.waitstatus_to_exitcode(status) != 0


TRACE = os.environ.get("KRAT_TRACE", "")


def trace(what: str) -> None:
    """KRAT_TRACE=FILE: this monitor's phases, appended to FILE as CLOCK_MONOTONIC
    milliseconds (comparable with other processes' marks; monitor.log goes with --rm)."""
    if TRACE:
        fd = os.open(TRACE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(fd, f"{time.monotonic() * 1000:.2f} monitor {what}\n".encode())
        os.close(fd)
