"""monitorexit.hold: what a hand-over's removal deletes stays referenced (O_PATH) by the
monitor until it exits, so that the blocks are freed after its remover saw it go; never its
rootfs mount point, whose path is the mounted overlay (a reference there keeps it busy)."""

from __future__ import annotations

import os

from krat.engine.cleanup import remove_storage
from krat.engine.monitorexit import hold
from krat.runtime.trees import remove_tree


def _container(tmp_path, cid: str = "c" * 64) -> dict:
    storage, run_dir, state = tmp_path / "root" / cid, tmp_path / "run" / cid, tmp_path / "state" / cid
    for sub in ("rootfs", "work/work/incompat/volatile", "diff/etc"):
        (storage / sub).mkdir(parents=True)
    for name in ("hosts", "resolv.conf", "hostname", f"{cid}-json.log", "work/work/incompat/volatile/dirty"):
        (storage / name).write_text("x")
    run_dir.mkdir(parents=True)
    (run_dir / "attach.sock").write_text("")
    state.mkdir(parents=True)
    (state / "state.json").write_text("{}")
    return {"id": cid, "storage_dir": str(storage), "dir": str(run_dir), "runtime_root": str(state.parent),
            "log_path": str(storage / f"{cid}-json.log"), "rootfs": str(storage / "rootfs")}


def test_hold_refers_to_what_the_removal_deletes_but_the_rootfs(tmp_path):
    cfg = _container(tmp_path)
    fds = hold(cfg)
    try:
        held = {os.readlink(f"/proc/self/fd/{fd}") for fd in fds}
        storage = cfg["storage_dir"]
        state_json = os.path.join(cfg["runtime_root"], cfg["id"], "state.json")
        assert {storage, f"{storage}/diff", f"{storage}/diff/etc", f"{storage}/work/work/incompat/volatile",
                f"{storage}/hosts", cfg["log_path"], cfg["dir"], state_json} <= held
        assert cfg["rootfs"] not in held
        remove_storage(storage, os.path.basename(cfg["log_path"]))   # rmdir and unlink work on held inodes
        remove_tree(cfg["dir"])
        assert not os.path.exists(storage) and not os.path.exists(cfg["dir"])
    finally:
        for fd in fds:
            os.close(fd)


def test_hold_skips_what_is_not_there(tmp_path):
    cfg = {"id": "d" * 64, "storage_dir": str(tmp_path / "gone"), "dir": str(tmp_path / "also-gone"),
           "runtime_root": str(tmp_path / "state")}
    assert hold(cfg) == []
