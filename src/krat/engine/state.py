"""The container lifecycle as a state machine, and Docker's status strings.

Every change of status goes through `check()` (an illegal move names both states);
the database applies it as compare-and-set so two processes never both make it.
"""

from __future__ import annotations

import time

from krat.errors import Conflict
from krat.oci.closedstr import ClosedStr
from krat.oci.records import record


class Status(ClosedStr, values=("created", "running", "paused", "restarting", "removing", "exited", "dead")):
    """A container's status (a ClosedStr, not an Enum: see there); STATUSES lists them in order."""

    __slots__ = ()
    CREATED: Status
    RUNNING: Status
    PAUSED: Status
    RESTARTING: Status
    REMOVING: Status
    EXITED: Status
    DEAD: Status


STATUSES: tuple[Status, ...] = Status.members()

S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.CREATED: frozenset({S.RUNNING, S.REMOVING, S.EXITED, S.DEAD}),
    S.RUNNING: frozenset({S.PAUSED, S.EXITED, S.RESTARTING, S.DEAD, S.REMOVING}),
    S.PAUSED: frozenset({S.RUNNING, S.EXITED, S.DEAD, S.REMOVING}),
    S.RESTARTING: frozenset({S.RUNNING, S.EXITED, S.DEAD, S.REMOVING}),
    S.EXITED: frozenset({S.RUNNING, S.REMOVING, S.DEAD}),
    S.REMOVING: frozenset({S.DEAD}),
    S.DEAD: frozenset({S.REMOVING}),
}

ACTIVE = (S.RUNNING, S.PAUSED, S.RESTARTING)


def check(name: str, current: Status, target: Status) -> None:
    if target not in TRANSITIONS[current]:
        raise Conflict(f"container {name} is {current.value}: cannot move it to {target.value}")


def allowed_from(target: Status) -> tuple[str, ...]:
    return tuple(s.value for s, nxt in TRANSITIONS.items() if target in nxt)


@record(frozen=True)
class StateView:
    status: Status
    exit_code: int
    started_at: str
    finished_at: str
    restart_count: int = 0


def human_duration(seconds: float) -> str:
    """Docker's go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def epoch(stamp: str) -> float:
    """RFC 3339 (UTC, 'Z') -> seconds; Go's zero time -> 0."""
    if not stamp or stamp.startswith("0001-"):
        return 0.0
    import calendar

    main, _, frac = stamp.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return secs + (float("0." + frac) if frac else 0.0)


def status_string(view: StateView, now: float | None = None) -> str:
    """`Up 5 minutes`, `Exited (0) 3 seconds ago`, `Created`... as `docker ps` prints them."""
    now = time.time() if now is None else now
    st = view.status
    if st in (S.RUNNING, S.PAUSED):
        text = "Up " + human_duration(now - epoch(view.started_at))
        return text + " (Paused)" if st is S.PAUSED else text
    if st is S.RESTARTING:
        return f"Restarting ({view.exit_code}) {human_duration(now - epoch(view.finished_at))} ago"
    if st is S.REMOVING:
        return "Removal In Progress"
    if st is S.DEAD:
        return "Dead"
    if st is S.EXITED:
        if epoch(view.finished_at) == 0:
            return "Created"
        return f"Exited ({view.exit_code}) {human_duration(now - epoch(view.finished_at))} ago"
    return "Created"
