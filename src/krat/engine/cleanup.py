"""Releasing what a container holds once it is not running, from whichever process notices.

The monitor calls these when its container is done; `rm` and the state reconciler call
them when no monitor is left. Every step is idempotent: a second call finds nothing.
`cfg` is the monitor's configuration (ids and paths as plain strings).

The monitor imports this module after its container exited, while `run --rm` waits for
it: its top imports only os and sys (shutil, contextlib or pathlib would cost the monitor
2-9 ms each; the CLI has them loaded anyway).
"""

from __future__ import annotations

import os
import sys

from krat.runtime.trees import remove_tree  # not shutil: it loads bz2 and lzma


def release(cfg: dict, runtime=None, db=None) -> None:
    """Delete the runtime's state (and so its cgroup), detach the networks, unmount the rootfs,
    drop the bundle. db: the caller's open database, if it has one (opening another costs a few ms)."""
    release_kernel(cfg, runtime)
    release_networks(cfg, db)


def release_networks(cfg: dict, db=None) -> None:
    """Detach the container from its networks (the part of release() that needs the database)."""
    net, own = _networking(cfg, db)
    if net is not None:
        try:
            net.stop(cfg["id"])
        except Exception as err:  # a leftover is reported, and the rest of the cleanup still runs
            _report(cfg, err)
        finally:
            if own:
                net.db.close()


def release_kernel(cfg: dict, runtime=None, handed_over: bool = False) -> None:
    """The part of release() that needs no database: the runtime's state and cgroups, the
    rootfs mount, the bundle's files. What the monitor does while an `rm -f` or the `run`
    client of an --rm container removes the rows (see ContainerService.finish_removal). The
    rootfs first, so that the storage may go meanwhile: a plain umount succeeds only when no
    process of the container is left (each has its root there); else it follows the
    runtime's kill, detaching a still busy mount. handed_over: the bundle's files are left
    to the remover the monitor hands the container over to, which removes the whole run dir
    (see monitorexit.handoff)."""
    rootfs = cfg.get("rootfs")
    done = not rootfs or try_unmount(rootfs)
    # Runtimes keep a container's state in <root>/<id>: none there, nothing to delete (and
    # `rm` after the monitor's release need not load the runtime).
    known = os.path.lexists(os.path.join(cfg["runtime_root"], cfg["id"]))
    if runtime is None and known:
        from krat.engine.runtimes import make_runtime

        runtime = make_runtime(cfg["runtime"], cfg["runtime_root"])
    deleted = False
    if runtime is not None:
        try:
            runtime.delete(cfg["id"], force=True)  # its cgroups with it
            deleted = known
        except Exception:
            pass  # already gone: `delete` of an unknown id fails, which is what we want
    if not deleted:  # what a runtime that failed, or lost the container's state, left
        remove_cgroups(cfg.get("cgroups_path", ""), cfg.get("cgroup_root", ""))
    if not done:
        unmount(rootfs)
    bundle = cfg.get("dir")
    if bundle and not handed_over:
        for name in ("config.json", "pid", "runtime.log"):
            try:
                os.unlink(os.path.join(bundle, name))
            except OSError:
                pass


def remove_cgroups(path: str, root: str = "") -> None:
    """rmdir the container's cgroup in every hierarchy where the runtime left it (v1 and v2;
    `root`: a cgroup2 root of $KRAT_CGROUP2_ROOT)."""
    if not path:
        return
    base = "/sys/fs/cgroup"
    try:
        names = os.listdir(base)
    except OSError:
        return
    candidates = [os.path.join(base, path.lstrip("/"))]
    candidates += [os.path.join(base, n, path.lstrip("/")) for n in names]
    if root and root != base:
        candidates.append(os.path.join(root, path.lstrip("/")))
    for cg in candidates:
        try:
            os.rmdir(cg)
        except OSError:
            pass


def try_unmount(target: str) -> bool:
    """umount2(target, 0); True when nothing is mounted there any more, False when busy
    (or refused). Unlike store.snapshots.unmount it never raises and never detaches, and it
    looks before it loads libc (see _umount2)."""
    return _umount2(target, 0) in (0, 2, 22)  # ENOENT: gone; EINVAL: not a mount point


def _umount2(target: str, flags: int) -> int:
    """0, or the errno. libc only when something is mounted
    there: a rootfs is an overlay, whose device differs from its parent directory's (two
    lstats; os.path.ismount would resolve every component of the path first)."""
    try:
        if os.lstat(target).st_dev == os.lstat(os.path.dirname(target)).st_dev:
            return 22  # EINVAL, as umount2 would say
    except FileNotFoundError:
        return 2
    from krat.runtime import libc   # _ctypes alone: the ctypes package costs ~2 ms

    return libc.umount2(target, flags)


def unmount(target: str) -> None:
    """umount2(target); busy: detach it (MNT_DETACH). A failure is reported, not raised."""
    err = _umount2(target, 0)
    if err == 16:  # EBUSY: something still has it open
        err = _umount2(target, 2)  # MNT_DETACH
    if err not in (0, 2, 22):
        sys.stderr.write(f"krat: umount {target}: {os.strerror(err)}\n")


def remove_container(cfg: dict, db, volumes: bool = False) -> None:
    """Forget the container: its networks and mounts (-v: anonymous volumes), its row, its dirs."""
    from krat.db import containers

    net, own = _networking(cfg, db)
    if net is not None:
        try:
            net.remove(cfg["id"], volumes=volumes)
        except Exception as err:
            _report(cfg, err)
        finally:
            if own:
                net.db.close()
    containers.delete(db, cfg["id"])
    remove_dirs(cfg)


def remove_dirs(cfg: dict, keys: tuple[str, ...] = ("storage_dir", "dir")) -> None:
    """rm -r the container's storage (its upper dir; the rootfs must be unmounted) and run dirs."""
    for key in keys:
        path = cfg.get(key)
        if path and key == "storage_dir":
            remove_storage(path, os.path.basename(cfg.get("log_path", "")))
        elif path:
            remove_tree(path)


# A container's storage dir as create, prepare, the runtime and overlayfs leave it: the engine's
# /etc files and json-file log, the rootfs mount point, the work dir (overlayfs makes work/work,
# and incompat/volatile/dirty in it for a volatile mount, the --rm case), and the upper dir.
STORAGE_FILES = ("hosts", "resolv.conf", "hostname", "work/work/incompat/volatile/dirty")
STORAGE_DIRS = ("rootfs", "work/work/incompat/volatile", "work/work/incompat", "work/work", "work")


def remove_storage(path: str, log_name: str = "") -> None:
    """remove_tree(path) for a container's storage dir, which `run --rm` waits for: what it is
    known to hold goes by name (one unlink or rmdir each, no listing of each directory first:
    ~10 system calls less a directory), the upper dir and anything else as remove_tree finds
    it. Only the engine and overlayfs write in that dir (the container writes in diff/), and
    unlink and rmdir never follow a last component that is a symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        for name in (*STORAGE_FILES, log_name) if log_name else STORAGE_FILES:
            try:
                os.unlink(name, dir_fd=fd)
            except OSError:
                pass
        for name in STORAGE_DIRS:
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError:
                pass   # not empty (a mount, or what remove_tree below finds), or gone
    finally:
        os.close(fd)
    remove_tree(os.path.join(path, "diff"))
    try:
        os.rmdir(path)
    except OSError:
        remove_tree(path)   # rotated logs, what an older krat left


def _networking(cfg: dict, db=None):
    """(the network area's ContainerNet for this container, whether its database is ours to
    close); (None, False) when cfg names no storage root or the area cannot be opened."""
    if "root" not in cfg:
        return None, False
    from krat.db import open_database
    from krat.engine.config import Paths
    from krat.engine.containernet import ContainerNet

    own = db is None
    try:
        db = db or open_database(cfg["db"])
        return ContainerNet(db, Paths(cfg["root"], cfg["runroot"])), own
    except Exception as err:
        _report(cfg, err)
        return None, False


def _report(cfg: dict, err: BaseException) -> None:
    sys.stderr.write(f"krat: network cleanup of {cfg['id'][:12]} failed: {err}\n")
