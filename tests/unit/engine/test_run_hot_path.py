"""`krat run` must start fast: nothing heavy on its import path (DESIGN.md, Speed), and the
monitor, which lives as long as its container, must stay small."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[3] / "src")
HEAVY = ("httpx", "yaml", "asyncio", "tarfile", "pyroute2", "click")


def loaded_after(imports: str, flags: tuple[str, ...] = ()) -> set[str]:
    code = f"import sys\n{imports}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}).stdout
    return set(out.split())


def test_run_path_imports_nothing_heavy():
    modules = loaded_after("import krat.cli.main, krat.cli.commands.run, krat.cli.container_flags, "
                           "krat.cli.session, krat.engine.containers, krat.engine.bundle, krat.engine.ocigen, "
                           "krat.engine.attach, krat.engine.containernet, krat.engine.images, krat.engine.cleanup, "
                           "krat.engine.runtimes, krat.store.snapshots")
    assert not [m for m in HEAVY if m in modules]


def test_monitor_imports_only_what_it_must():
    modules = loaded_after("import krat.engine.monitor, krat.engine.logs, krat.engine.runtimes", ("-S",))
    for heavy in ("typing", "re", "json", "sqlite3", "subprocess", "krat.db", "krat.runtime", "socket"):
        assert heavy not in modules, heavy


def test_exec_path_imports_little():
    """`krat exec` is timed against `docker exec`: its modules load none of these at import."""
    modules = loaded_after("import krat.cli.main, krat.cli.commands.exec, krat.engine.execs, krat.engine.config, "
                           "krat.db.lookup, krat.runtime.tenant, krat.runtime.seccomp, krat.runtime.cgroupwarm",
                           ("-S",))
    for heavy in ("typing", "json", "sqlite3", "subprocess", "socket", "signal", "pathlib", "argparse",
                  "krat.engine.containers", "krat.engine.spec", "krat.engine.runtimes"):
        assert heavy not in modules, heavy
