"""Processes seen from the engine: signal names, and whether a recorded pid is still ours."""

from __future__ import annotations

import os

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


def signal_checked(pid: int, number: int, ours) -> None:
    """Send signal number to pid if ours() (asked once a pidfd pins the process) says it is
    still the process meant: a recorded pid may be another process's by now, and the pidfd
    keeps a later holder from getting the signal. One gone counts as not ours."""
    import _signal

    if pid <= 0:  # none recorded: kill(0) would hit our own group
        return
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if ours():
            _signal.pidfd_send_signal(fd, number)
    except ProcessLookupError:
        pass
    finally:
        os.close(fd)


def signaller(pid: int):
    """A function that sends a signal to the process that is pid now (`run`'s and `exec`'s
    proxying of the user's Ctrl-C): through a pidfd taken here, so that once that process has
    exited, and its pid may be another's, a late signal reaches nobody (os.kill would hit the
    new holder). A process gone already: a function that does nothing."""
    import _signal

    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return lambda signum: None

    def send(signum: int) -> None:
        try:
            _signal.pidfd_send_signal(fd, signum)
        except ProcessLookupError:
            pass
    return send
