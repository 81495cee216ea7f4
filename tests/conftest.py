"""Shared fixtures: every test gets its own storage root and runtime root.

Tiers: tests/unit touch nothing outside the process; tests/integration use the real
kernel as root (marked `root`); tests/conformance drive krat through a contract
(OCI runtime CLI, REST API) or against a real peer (marked `interop`).

With KRAT_TEST_STRICT=1 (CI) a root or interop test that cannot run fails instead
of skipping, so a missing capability in CI is never mistaken for a pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import STRICT, KratCLI, _unmount_below, is_real_root, require_binary, skip_or_fail  # noqa: F401


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `online` talk to package mirrors: deselected (not skipped) unless asked for."""
    if os.environ.get("KRAT_TEST_ONLINE") == "1":
        return
    online = [item for item in items if item.get_closest_marker("online")]
    if online:
        config.hook.pytest_deselected(items=online)
        items[:] = [item for item in items if not item.get_closest_marker("online")]


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") and not is_real_root():
        skip_or_fail("needs root on the real kernel")


@pytest.fixture
def state_dirs(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    runroot = tmp_path / "run"
    root.mkdir()
    runroot.mkdir()
    yield root, runroot
    # Tests that mount must clean up; this is a last resort so one failure does not cascade.
    _unmount_below(tmp_path)


@pytest.fixture
def krat(state_dirs: tuple[Path, Path]) -> KratCLI:
    root, runroot = state_dirs
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent / "src")
    env.pop("KRAT_DEBUG", None)
    # `run`/`create`/`build` pull missing images, as Docker does: a test's unknown short name
    # must fail here, never look up or reach Docker Hub. Tests of registries use 127.0.0.1.
    conf = root.parent / "registries.conf"
    conf.write_text('[[registry]]\nlocation = "docker.io"\nblocked = true\n')
    env.setdefault("KRAT_REGISTRIES_CONF", str(conf))
    return KratCLI(root, runroot, env)


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root filesystem tarball made from Debian's static busybox (scripts/busybox-rootfs.py)."""
    if not Path("/bin/busybox").exists():
        skip_or_fail("busybox-static is not installed (scripts/setup.sh installs it)")
    out = tmp_path_factory.mktemp("busybox") / "rootfs.tar"
    script = Path(__file__).resolve().parent.parent / "scripts" / "busybox-rootfs.py"
    subprocess.run([sys.executable, str(script), str(out)], check=True)
    return out


@pytest.fixture
def busybox_image(krat: KratCLI, busybox_tar: Path) -> str:
    """busybox:latest (CMD ["sh"]) imported into this test's store; returns its image id."""
    proc = krat.ok("import", "--change", 'CMD ["sh"]', str(busybox_tar), "busybox:latest")
    return proc.stdout.strip()


# Private dockerd / podman peers for interop tests (see tests/peers.py).
from peers import dockerd_peer, podman_peer  # noqa: E402,F401


def pytest_sessionstart(session: pytest.Session) -> None:
    """Test modules are imported by basename (rootdir-relative 'prepend' mode): a second
    test_x.py anywhere under tests/ would shadow the first, so refuse duplicates early."""
    seen: dict[str, Path] = {}
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        if path.name in ("conftest.py", "__init__.py") or "testdata" in path.parts:
            continue
        if path.name in seen:
            raise pytest.UsageError(f"two test modules named {path.name}: {seen[path.name]} and {path}; rename one")
        seen[path.name] = path
