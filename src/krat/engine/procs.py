"""Processes seen from the engine: signal names, and whether a recorded pid is still ours."""

from __future__ import annotations

from krat.errors import InvalidArgument


def signal_number(text: str | int) -> int:
    import signal as signals  # enum: only for names

    if isinstance(text, int):
        return text
    value = text.strip().upper()
    if value.isdigit():
        return int(value)
    name = value if value.startswith("SIG") else "SIG" + value
    try:
        return int(getattr(signals.Signals, name))
    except AttributeError:
        raise InvalidArgument(f"invalid signal {text!r}") from None


def pid_alive(pid: int, start_ticks: int = 0) -> bool:
    from krat.engine.monitorproto import proc_start_ticks

    if pid <= 0:
        return False
    ticks = proc_start_ticks(pid)
    if not ticks:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except (OSError, IndexError):
        return False
    return not start_ticks or ticks == start_ticks


def container_pid_alive(pid: int, container_id: str) -> bool:
    """The pid is alive and still the container's (a reused pid is in another cgroup)."""
    if not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return container_id in f.read()
    except OSError:
        return False
