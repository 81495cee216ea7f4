"""The monitor's end of a container: whether it goes with its exit (removes), and its removal,
by the monitor alone (cleanup) or shared with the remover attached to it (handoff); what
that needs is loaded while the CLI prepares the container (preload_cleanup)."""

from __future__ import annotations

import os

from krat.engine.monitorproto import EXIT, RELEASED, REMOVING, exit_payload, frame, parse_frames
from krat.engine.monitorstate import open_db, trace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.engine.monitor import Monitor

KEEP = "keep"
HANDOFF_TIMEOUT = 120.0  # then the monitor removes the container itself (idempotent steps)


def removes(mon: Monitor) -> bool:
    """--rm: the container goes with its exit, unless `restart` asked to keep it (a file
    KEEP in the run dir, as Docker suspends AutoRemove while it restarts a container);
    any container goes when an `rm -f` waits to remove it (it asked for the stop: no restart)."""
    if mon.forced and mon.owner in mon.clients:
        return True
    return bool(mon.cfg.get("auto_remove")) and not os.path.exists(os.path.join(mon.dir, KEEP))


def cleanup(mon: Monitor, ran: bool) -> None:
    """Release what the container held, then, for --rm, the container itself (after a failed
    start the CLI removes it, once it has said why)."""
    from krat.engine.cleanup import release_kernel, release_networks, remove_container

    release_kernel(mon.cfg, runtime=mon.runtime)  # first: it needs no database, should that fail to open
    db = open_db(mon.cfg)  # one connection for the networks and the rows
    try:
        release_networks(mon.cfg, db)
        trace("released")
        if removes(mon) and ran:
            remove_container(mon.cfg, db, volumes=True)
    finally:
        db.close()


def handoff(mon: Monitor, code: int) -> bool:
    """An exited container whose remover is attached (the foreground `run` of an --rm
    container, or an `rm -f`): the two remove it together, each with what it has loaded.
    We send the exit (cleanup: true) and release the kernel's side (no database needed; see
    preload_cleanup; the rootfs first), while the remover, having sent REMOVING, detaches the
    networks and removes the storage once the rootfs is unmounted. We answer RELEASED and
    exit; the remover then deletes the row and returns at our EOF. False if it went away
    before REMOVING: we then record the exit and release the container ourselves, removing
    an --rm one (idempotent steps). Should it die after, the row says running with no
    monitor: the next command's reconcile removes an --rm container (shows another exited)."""
    client = mon.clients.get(mon.owner)
    if not removes(mon) or client is None:
        return False
    conn, buf = client[0], client[2]
    try:
        conn.sendall(frame(EXIT, exit_payload(code, True, cleanup=True)))
    except OSError:
        mon.drop(mon.owner)
        return False
    from krat.engine.cleanup import release_kernel

    release_kernel(mon.cfg, runtime=mon.runtime, handed_over=True)
    trace("released")
    try:
        conn.settimeout(HANDOFF_TIMEOUT)
        while data := conn.recv(65536):
            frames, buf = parse_frames(buf + data)
            if any(kind == REMOVING for kind, _ in frames):
                conn.sendall(frame(RELEASED, b""))
                # Left open: the kernel closes it as we exit, after freeing our memory, so
                # the owner's EOF says this monitor is gone (no polling of /proc).
                mon.clients.pop(mon.owner)
                mon.unwatch(mon.owner)
                conn.detach()
                return True
    except OSError:
        pass
    mon.drop(mon.owner)
    return False


def preload_cleanup(krat_runtime: bool) -> None:
    """--rm: load what handoff's release needs while the CLI prepares the container (we wait
    for its config or "go" meanwhile), not after the exit, when `run` waits for us."""
    import krat.engine.cleanup  # noqa: F401

    if krat_runtime:
        preload_runtime()


def preload_runtime() -> None:
    """krat's runtime as the removal needs it (krat.runtime.container), with the host's cgroup
    hierarchies read (a v1 host's /proc/self/mountinfo, which the runtime reads once per
    process): the delete at the exit, while `run` waits, then need not."""
    from krat.errors import InvalidArgument
    from krat.runtime import cgroups, container  # noqa: F401

    try:
        if not cgroups.is_v2(cgroups.configured_root()):
            cgroups.hierarchies()
    except (InvalidArgument, OSError):
        pass   # create reports a bad $KRAT_CGROUP2_ROOT; the delete reads it again
