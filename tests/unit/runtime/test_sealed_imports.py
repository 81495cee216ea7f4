"""A child that has joined a container's mount namespace imports nothing (spawn.seal_imports):
the files an import would read there are the container's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[3] / "src")

CODE = """
import sys
from krat.runtime import spawn
spawn.seal_imports([("pid", -1), ("uts", -1)])   # no mount namespace joined: imports still work
import json
spawn.seal_imports([("pid", -1), ("mount", -1)])
try:
    import tarfile
except ImportError as err:
    print("refused:", err)
import _socket                        # built in: no file is read
from krat.runtime import init         # loaded before: no file is read either
print("tarfile" in sys.modules, "ok")
"""


def test_imports_are_refused_once_a_mount_namespace_is_joined():
    out = subprocess.run([sys.executable, "-S", "-c", CODE], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert out == ["refused: tarfile cannot be imported inside the container: load it before the fork",
                   "False ok"]
