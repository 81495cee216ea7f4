"""The one suite both OCI runtimes must pass: krat-runtime and runc, on the same bundles.

Fixtures: `runtime` (parametrized over krat and runc; interop-marked for runc) and
`bundle` (busybox rootfs + Docker-like config.json from runtime_bundles.base_config).
Every container a test creates is force-deleted afterwards, even when the test fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from runtime_bundles import REPO, Bundle, Runtime, base_config, cgroup_dirs

STRICT = os.environ.get("KRAT_TEST_STRICT") == "1"


def _runtime(name: str, tmp_path: Path):
    if name == "runc" and not shutil.which("runc"):
        if STRICT:
            pytest.fail("runc is not installed (scripts/setup.sh installs it)")
        pytest.skip("runc is not installed (scripts/setup.sh installs it)")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src")
    rt = Runtime(name, tmp_path / "state", env)
    yield rt
    for container_id in rt.created:
        rt("delete", "--force", container_id)
        for d in cgroup_dirs(container_id):
            try:
                d.rmdir()
            except OSError:
                pass


@pytest.fixture(params=["krat", pytest.param("runc", marks=pytest.mark.interop)])
def runtime(request, tmp_path: Path) -> Runtime:
    """Each OCI runtime in turn: the suite is the contract."""
    yield from _runtime(request.param, tmp_path)


@pytest.fixture
def krat_runtime(tmp_path: Path) -> Runtime:
    """krat-runtime alone, for what runc does not promise (explicit exec error messages)."""
    yield from _runtime("krat", tmp_path)


@pytest.fixture(scope="session")
def rootfs_template(busybox_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("busybox-rootfs")
    subprocess.run(["tar", "-xf", str(busybox_tar), "-C", str(out)], check=True)
    out.chmod(0o755)  # mktemp makes it 0700: a non-root container user could not even reach /bin
    return out


@pytest.fixture
def bundle(rootfs_template: Path, tmp_path: Path) -> Bundle:
    path = tmp_path / "bundle"
    rootfs = path / "rootfs"
    path.mkdir()
    subprocess.run(["cp", "-a", str(rootfs_template), str(rootfs)], check=True)
    return Bundle(path, rootfs, base_config("rootfs", "", ["true"]))


