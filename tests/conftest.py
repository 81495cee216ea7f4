"""Shared fixtures: every test gets its own storage root and runtime root.

Tiers: tests/unit touch nothing outside the process; tests/integration use the real
kernel as root (marked `root`); tests/conformance drive krat through a contract
(OCI runtime CLI, REST API) or against a real peer (marked `interop`).

With KRAT_TEST_STRICT=1 (CI) a root or interop test that cannot run fails instead
of skipping, so a missing capability in CI is never mistaken for a pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

STRICT = os.environ.get("KRAT_TEST_STRICT") == "1"


def skip_or_fail(reason: str) -> None:
    if STRICT:
        pytest.fail(f"cannot run in strict mode: {reason}")
    pytest.skip(reason)


def is_real_root() -> bool:
    if os.geteuid() != 0:
        return False
    try:
        # In a user namespace uid 0 maps to something else; crun checks the same way.
        fields = Path("/proc/self/uid_map").read_text().split()
        return fields[:3] == ["0", "0", "4294967295"]
    except OSError:
        return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") and not is_real_root():
        skip_or_fail("needs root on the real kernel")


@dataclass
class KratCLI:
    """Runs the real `krat` command line against one test's private state."""

    root: Path
    runroot: Path
    env: dict[str, str]

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "krat", "--root", str(self.root), "--runroot", str(self.runroot), *args]

    def __call__(self, *args: str, input: bytes | str | None = None, timeout: float = 120,
                 check: bool = False) -> subprocess.CompletedProcess:
        text = not isinstance(input, bytes)
        proc = subprocess.run(self.argv(*args), input=input, capture_output=True, text=text,
                              env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"krat {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    def ok(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self(*args, check=True, **kwargs)

    def fails(self, *args: str, code: int = 125, **kwargs) -> str:
        """Assert a clean failure: the exit code, one line on stderr, no traceback."""
        proc = self(*args, **kwargs)
        assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
        err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode()
        assert "Traceback" not in err, err
        assert err.strip(), "expected an error message on stderr"
        return err.strip()


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
    return KratCLI(root, runroot, env)


def _unmount_below(path: Path) -> None:
    prefix = str(path.resolve()) + "/"
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return
    for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if not path:
        skip_or_fail(f"{name} is not installed (scripts/setup.sh installs it)")
    return path


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
