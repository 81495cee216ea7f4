"""Releasing what a container holds once it is not running, from whichever process notices.

The monitor calls these when its container is done; `rm` and the state reconciler call
them when no monitor is left. Every step is idempotent: a second call finds nothing.
`cfg` is the monitor's configuration (ids and paths as plain strings).
"""

from __future__ import annotations

import contextlib
import os
import sys

from krat.runtime.trees import remove_tree  # not shutil: it loads bz2 and lzma


def release(cfg: dict, runtime=None, db=None) -> None:
    """Delete the runtime's state (and so its cgroup), unmount the rootfs, drop the bundle.
    db: the caller's open database, if it has one (opening another costs a few ms)."""
    if runtime is None:
        from krat.engine.runtimes import make_runtime

        runtime = make_runtime(cfg["runtime"], cfg["runtime_root"])
    try:
        runtime.delete(cfg["id"], force=True)
    except Exception:
        pass  # already gone: `delete` of an unknown id fails, which is what we want
    remove_cgroups(cfg.get("cgroups_path", ""), cfg.get("cgroup_root", ""))
    with _networking(cfg, db) as net:
        if net is not None:
            net.stop(cfg["id"])
    rootfs = cfg.get("rootfs")
    if rootfs:
        from krat.store.snapshots import unmount

        try:
            unmount(rootfs)
        except OSError:
            unmount(rootfs, lazy=True)
    bundle = cfg.get("dir")
    if bundle:
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


def remove_container(cfg: dict, db, volumes: bool = False) -> None:
    """Forget the container: its networks and mounts (-v: anonymous volumes), its row, its dirs."""
    from krat.db import containers

    with _networking(cfg, db) as net:
        if net is not None:
            net.remove(cfg["id"], volumes=volumes)
    containers.delete(db, cfg["id"])
    for key in ("storage_dir", "dir"):
        path = cfg.get(key)
        if path:
            remove_tree(path)


@contextlib.contextmanager
def _networking(cfg: dict, db=None):
    """The network area's ContainerNet for this container; cleanup goes on if it fails."""
    if "root" not in cfg:
        yield None
        return
    from pathlib import Path

    from krat.db import open_database
    from krat.engine.config import Paths
    from krat.engine.containernet import ContainerNet

    own = db is None
    db = db or open_database(Path(cfg["db"]))
    try:
        yield ContainerNet(db, Paths(Path(cfg["root"]), Path(cfg["runroot"])))
    except Exception as err:  # a leftover is reported, and the rest of the cleanup still runs
        sys.stderr.write(f"krat: network cleanup of {cfg['id'][:12]} failed: {err}\n")
    finally:
        if own:
            db.close()
