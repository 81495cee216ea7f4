"""Releasing what a container holds once it is not running, from whichever process notices.

The monitor calls these when its container is done; `rm` and the state reconciler call
them when no monitor is left. Every step is idempotent: a second call finds nothing.
`cfg` is the monitor's configuration (ids and paths as plain strings).
"""

from __future__ import annotations

import os
import shutil


def release(cfg: dict, runtime=None) -> None:
    """Delete the runtime's state (and so its cgroup), unmount the rootfs, drop the bundle."""
    if runtime is None:
        from krat.engine.runtimes import make_runtime

        runtime = make_runtime(cfg["runtime"], cfg["runtime_root"])
    try:
        runtime.delete(cfg["id"], force=True)
    except Exception:
        pass  # already gone: `delete` of an unknown id fails, which is what we want
    remove_cgroups(cfg.get("cgroups_path", ""))
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


def remove_cgroups(path: str) -> None:
    """rmdir the container's cgroup in every hierarchy where the runtime left it (v1 and v2)."""
    if not path:
        return
    base = "/sys/fs/cgroup"
    try:
        names = os.listdir(base)
    except OSError:
        return
    candidates = [os.path.join(base, path.lstrip("/"))]
    candidates += [os.path.join(base, n, path.lstrip("/")) for n in names]
    for cg in candidates:
        try:
            os.rmdir(cg)
        except OSError:
            pass


def remove_container(cfg: dict, db) -> None:
    """Forget the container: its row, its storage directory and its runtime directory."""
    from krat.db import containers

    containers.delete(db, cfg["id"])
    for key in ("storage_dir", "dir"):
        path = cfg.get(key)
        if path:
            shutil.rmtree(path, ignore_errors=True)
