"""Helpers shared by tests; import them as `from support import ...`.

(Every conftest.py is imported as `conftest`, so `from conftest import` is ambiguous.)
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
