"""cleanup.remove_storage: a container's storage dir goes whole, what krat and overlayfs put
there by name and anything else as found, never following a symlink out of it."""

from __future__ import annotations

import os

from krat.engine.cleanup import remove_dirs, remove_storage


def _storage(tmp_path, cid: str = "c" * 64):
    storage = tmp_path / "containers" / cid
    for sub in ("rootfs", "work/work/incompat/volatile", "diff/etc", "diff/data/deep"):
        (storage / sub).mkdir(parents=True)
    for name in ("hosts", "resolv.conf", "hostname", f"{cid}-json.log", "work/work/incompat/volatile/dirty",
                 "diff/etc/hosts", "diff/data/deep/file"):
        (storage / name).write_text("x")
    return storage


def test_a_storage_dir_as_a_run_leaves_it_is_removed(tmp_path):
    storage = _storage(tmp_path)
    remove_storage(str(storage), f"{storage.name}-json.log")
    assert not storage.exists()
    assert os.listdir(tmp_path / "containers") == []


def test_what_it_does_not_know_goes_too_and_symlinks_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    (outside / "keep" / "file").write_text("mine")
    storage = _storage(tmp_path)
    (storage / f"{storage.name}-json.log.1").write_text("rotated")
    (storage / "diff" / "escape").symlink_to(outside)            # a container's symlink in its upper dir
    (storage / "diff" / "data" / "link").symlink_to(outside / "keep")
    (storage / "work" / "work" / "index").mkdir()                 # a work dir of other mount options
    (storage / "hosts").unlink()                                  # not every file is always there
    (storage / "rootfs").rmdir()
    (storage / "rootfs").symlink_to(outside)                      # not a directory: unlinked, not entered
    remove_storage(str(storage))
    assert not storage.exists()
    assert (outside / "keep" / "file").read_text() == "mine"


def test_a_missing_storage_dir_is_nothing_to_do(tmp_path):
    remove_storage(str(tmp_path / "gone"))
    remove_dirs({"storage_dir": str(tmp_path / "gone"), "dir": str(tmp_path / "also-gone")})
    assert os.listdir(tmp_path) == []


def test_remove_dirs_removes_the_storage_and_the_run_dir(tmp_path):
    storage = _storage(tmp_path)
    run_dir = tmp_path / "run" / storage.name
    run_dir.mkdir(parents=True)
    (run_dir / "attach.sock").write_text("")
    remove_dirs({"storage_dir": str(storage), "dir": str(run_dir),
                 "log_path": str(storage / f"{storage.name}-json.log")})
    assert not storage.exists() and not run_dir.exists()
