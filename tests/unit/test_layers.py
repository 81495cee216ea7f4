"""The layer rule of DESIGN.md, enforced: imports point down only."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_imports_point_down():
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint), "--config", str(REPO / "pyproject.toml")], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_errors_and_oci_import_nothing_above_them():
    for module in ("errors", "oci"):
        path = REPO / "src" / "krat" / (module if module == "oci" else f"{module}.py")
        files = path.rglob("*.py") if path.is_dir() else [path]
        for file in files:
            for line in file.read_text().splitlines():
                if line.startswith(("import krat", "from krat")):
                    assert line.startswith(("from krat.errors", "from krat.oci")), f"{file}: {line}"
