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
    networks and removes the storage once the rootfs is unmounted; we hold what it deletes
    (see hold). We answer RELEASED and exit; the remover then deletes the row and returns at
    our EOF. False if it went away before REMOVING: we then record the exit and release the
    container ourselves, removing an --rm one (idempotent steps). Should it die after, the row
    says running with no monitor: the next command's reconcile removes an --rm container
    (shows another exited)."""
    client = mon.clients.get(mon.owner)
    if not removes(mon) or client is None:
        return False
    conn, buf = client[0], client[2]
    try:
        conn.sendall(frame(EXIT, exit_payload(code, True, cleanup=True)))
    except OSError:
        mon.drop(mon.owner)
        return False
    # held since the start (an --rm container), else now: before the remover rmdirs (it unmounts first)
    held = mon.held if mon.held is not None else hold(mon.cfg)
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
                # the owner's EOF says this monitor has ended (no polling of /proc). Its last
                # fd above the held ones: an exit closes fds in order and the kernel runs
                # their deferred releases last first, so that EOF comes before the held
                # inodes' blocks are freed, the last of our exit.
                if held:
                    from fcntl import F_DUPFD_CLOEXEC, fcntl   # loaded by hold

                    try:
                        fcntl(conn.fileno(), F_DUPFD_CLOEXEC, max(held) + 1)
                    except OSError:
                        pass   # no fd left up there: the EOF then only comes later
                mon.clients.pop(mon.owner)
                mon.unwatch(mon.owner)
                conn.detach()
                return True
    except OSError:
        pass
    mon.drop(mon.owner)
    return False


def hold(cfg: dict) -> list[int]:
    """O_PATH fds, left open until we exit, on what the hand-over's removal deletes that has
    disk blocks of its own: the storage dir's directories (its rootfs mount point aside: that
    path is the overlay until unmounted) and files, the run dir, the runtime's state dir and
    files. An inode's blocks are freed with its last reference, not by its unlink or rmdir: on
    a filesystem that discards freed blocks at once (ext4 mounted with `discard` and without a
    journal: a synchronous discard each, ~80 us), ~10 such waits then follow our exit's EOF to
    the remover (see handoff) instead of holding up its rmdirs, and ours, while it waits."""
    import fcntl  # noqa: F401  (for handoff, which moves its socket's last fd above ours)

    from krat.engine.cleanup import STORAGE_DIRS, STORAGE_FILES

    storage = cfg.get("storage_dir", "")
    log = os.path.basename(cfg.get("log_path", ""))
    state = os.path.join(cfg["runtime_root"], cfg["id"]) if cfg.get("runtime_root") else ""
    names = ["", "diff", "diff/etc", *STORAGE_FILES, *(d for d in STORAGE_DIRS if d != "rootfs")]
    if log:
        names.append(log)
    paths = [os.path.join(storage, name) for name in names] if storage else []
    paths += [cfg.get("dir", ""), state]
    paths += [os.path.join(state, name) for name in ("state.json", "config.json", "seccomp.bpf") if state]
    fds = []
    for path in paths:
        try:
            fds.append(os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC))
        except OSError:
            continue   # gone, or never made
    return fds


def preload_cleanup(krat_runtime: bool) -> None:
    """--rm: load what handoff's release needs while the CLI prepares the container (we wait
    for its config or "go" meanwhile), not after the exit, when `run` waits for us. Once: an
    early monitor does it before it forks its runtime child (when --rm is on the command
    line), and run() asks again once the config says --rm; the second time (after the child's
    "ready", or after "started" when "go" came first) cost ~0.1 ms for nothing."""
    global _preloaded
    if _preloaded is not None and (_preloaded or not krat_runtime):
        return
    import krat.engine.cleanup  # noqa: F401

    if krat_runtime:
        preload_runtime()
    _preloaded = krat_runtime


_preloaded: bool | None = None   # what preload_cleanup has loaded: None nothing, True with krat's runtime


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
