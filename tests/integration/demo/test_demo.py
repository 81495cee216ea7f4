"""The README's main demo, end to end: scripts/demo on a private krat root.

It makes the python base image with debootstrap (from Debian's mirror in apt's
sources), builds examples/seed-app with `krat build --host-ca` (pip inside RUN),
runs it with a published port and gets an answer over HTTP. Opt-in:
`KRAT_TEST_ONLINE=1 ./scripts/test tests/integration/demo`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
# online: reaches Debian's mirror (debootstrap) and PyPI (pip in RUN); runs only with
# KRAT_TEST_ONLINE=1, since the test suite itself talks to nothing beyond this machine.
pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.online]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_builds_runs_and_answers(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, KRAT_ROOT=str(tmp_path / "root"), KRAT_RUNROOT=str(tmp_path / "run"),
               DEMO_PORT=str(port), DEMO_NAME="demo-test")
    krat = [sys.executable, "-m", "krat"]
    env["PYTHONPATH"] = str(REPO / "src")
    try:
        proc = subprocess.run([str(REPO / "scripts" / "demo")], env=env, capture_output=True, text=True,
                              timeout=1200)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "Hello from krat!" in proc.stdout
        assert f"0.0.0.0:{port}->5000/tcp" in proc.stdout  # krat ps shows the published port
        shell = subprocess.run(krat + ["exec", "demo-test", "bash", "-c", "echo $0; python --version"],
                               env=env, capture_output=True, text=True, timeout=60)
        assert shell.returncode == 0 and "bash" in shell.stdout and "Python 3" in shell.stdout, shell
    finally:
        subprocess.run(krat + ["rm", "-f", "demo-test"], env=env, capture_output=True, timeout=120)
