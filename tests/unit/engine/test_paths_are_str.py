"""The engine's paths are plain str (engine.config.Paths, os.path): pathlib costs `krat run`
~7 ms of imports (fnmatch, re, urllib.parse, ipaddress ...), in the CLI and in the monitor.
tests/integration/engine/test_run_imports.py checks a real run's CLI process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from krat.engine.config import Paths

SRC = str(Path(__file__).resolve().parents[3] / "src")
PATHLIB_AND_ITS_OWN = ("pathlib", "fnmatch", "urllib.parse")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})


def test_paths_are_absolute_strings_below_the_two_roots(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = Paths.resolve("store", "run/")
    root, runroot = str(tmp_path / "store"), str(tmp_path / "run")
    assert (paths.root, paths.runroot) == (root, runroot)
    assert (paths.db, paths.content, paths.layers, paths.containers, paths.volumes, paths.tmp) == tuple(
        os.path.join(root, name) for name in ("krat.db", "content", "layers", "containers", "volumes", "tmp"))
    assert paths.run_containers == os.path.join(runroot, "containers")
    assert all(type(p) is str for p in (paths.root, paths.db, paths.run_containers))


def test_run_path_modules_load_no_pathlib():
    """The modules `krat run --network none` loads, and its spec, without pathlib."""
    proc = _run("import sys\n"
                "from krat.cli.container_flags import build_spec, parse_flags\n"
                "build_spec(parse_flags('run', '', ['--rm', '--network', 'none', 'busybox', 'true']))\n"
                "import krat.cli.main, krat.cli.commands.run, krat.cli.session, krat.engine.containers, "
                "krat.engine.containernet, krat.engine.bundle, krat.engine.ocigen, krat.engine.images, "
                "krat.engine.attach, krat.engine.cleanup, krat.store.snapshots, krat.db.connection\n"
                f"print([m for m in {PATHLIB_AND_ITS_OWN!r} if m in sys.modules])")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"


def test_monitor_releases_and_removes_a_container_without_pathlib(tmp_path):
    """What a monitor runs after its container exited (engine/monitor.py: preload_cleanup,
    then handoff's release_kernel, or cleanup's networks and removal when no client removes
    the container) loads no pathlib, and does its work: the files and dirs are gone."""
    cid = "c" * 64
    root, runroot = tmp_path / "root", tmp_path / "run"
    run_dir, storage = runroot / "containers" / cid, root / "containers" / cid
    netfiles = runroot / "netfiles" / cid
    for folder in (run_dir, storage / "diff", netfiles):
        folder.mkdir(parents=True)
    (run_dir / "config.json").write_text("{}")
    (netfiles / "hosts").write_text("127.0.0.1 localhost\n")
    cfg = {"id": cid, "dir": str(run_dir), "db": str(root / "krat.db"), "root": str(root), "runroot": str(runroot),
           "rootfs": str(storage / "rootfs"), "storage_dir": str(storage), "runtime": "krat",
           "runtime_root": str(runroot / "runtime" / "krat"), "cgroups_path": "", "cgroup_root": ""}
    proc = _run("import sys\n"
                "import krat.engine.monitor, krat.engine.logs, krat.engine.runtimes\n"
                "from krat.engine import cleanup\n"
                "from krat.engine.monitorstate import open_db\n"
                f"cfg = {cfg!r}\n"
                "cleanup.release_kernel(cfg)\n"
                "db = open_db(cfg)\n"
                "cleanup.release_networks(cfg, db)\n"
                "cleanup.remove_container(cfg, db, volumes=True)\n"
                f"print([m for m in {PATHLIB_AND_ITS_OWN!r} if m in sys.modules])")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout == "[]\n"
    assert not run_dir.exists() and not storage.exists() and not netfiles.exists()
