"""A bundle made by `runc spec` (runc's own template, not krat's) runs under krat-runtime."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from runtime_bundles import bundle, krat_runtime, rootfs_template, runtime  # noqa: F401 - fixtures

pytestmark = [pytest.mark.root, pytest.mark.interop]


def test_runc_spec_bundle_runs_under_krat(krat_runtime, bundle):
    subprocess.run(["runc", "spec"], cwd=bundle.path, check=True)
    config = json.loads((bundle.path / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["sh", "-c", "hostname; id -u; grep -E '^(CapEff|NoNewPrivs):' /proc/self/status; "
                                 "touch /x 2>&1; echo $$"]
    (bundle.path / "config.json").write_text(json.dumps(config))
    container_id = krat_runtime.new_id()
    proc = krat_runtime("run", "--bundle", str(bundle.path), container_id, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "runc" and lines[1] == "0"
    assert lines[2].split()[1] == "0000000020000420"  # AUDIT_WRITE, KILL, NET_BIND_SERVICE
    assert lines[3].split()[1] == "1"
    assert "Read-only file system" in lines[4]  # the template's root is read-only
    assert lines[5] == "1"
    assert not list(Path("/sys/fs/cgroup").glob(f"*/krat/{container_id}"))  # the default cgroupsPath, removed
