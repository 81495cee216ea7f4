"""Many containers at once from one bundle: all succeed, all are cleaned up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "conformance" / "runtime"))
from runtime_bundles import REPO, base_config  # noqa: E402

pytestmark = pytest.mark.root


def test_concurrent_runs_share_a_bundle(busybox_tar, tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    subprocess.run(["tar", "-xf", str(busybox_tar), "-C", str(bundle / "rootfs")], check=True)
    config = base_config("rootfs", "", ["sh", "-c", "echo $$ $(hostname)"])
    del config["linux"]["cgroupsPath"]  # the default, /krat/<id>, differs per container
    (bundle / "config.json").write_text(json.dumps(config))
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    root = tmp_path / "state"
    ids = [f"kcc-{uuid.uuid4().hex[:10]}" for _ in range(12)]
    procs = [subprocess.Popen([sys.executable, "-m", "krat.runtime.cli", "--root", str(root), "run", "-b", str(bundle), i],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
             for i in ids]
    try:
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0] * len(ids), [r[1] for r in results]
    assert all(out.strip() == "1 box" for out, _ in results)
    assert not list(root.iterdir())
    for i in ids:
        assert not list(Path("/sys/fs/cgroup").glob(f"*/krat/{i}"))
