"""What a real `krat run --rm --network none` loads: its CLI process imports no pathlib (~7 ms
with fnmatch, re, urllib.parse ...; the engine's paths are str, engine.config.Paths)."""

from __future__ import annotations

import subprocess

import pytest

from engine_helpers import assert_nothing_left

pytestmark = pytest.mark.root

PATHLIB_AND_ITS_OWN = ("pathlib", "fnmatch", "urllib.parse")


def test_run_rm_network_none_cli_imports_no_pathlib(kr):
    # -S: no site or sitecustomize, which could load pathlib before krat and hide a krat import
    argv = kr.argv("run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo ran")
    proc = subprocess.run([argv[0], "-S", "-X", "importtime", *argv[1:]], env=kr.env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "ran\n", proc.stderr
    loaded = {line.rpartition("|")[2].strip() for line in proc.stderr.splitlines()
              if line.startswith("import time:")}
    assert {"krat.engine.containers", "krat.engine.bundle", "krat.engine.cleanup"} <= loaded  # the run's modules
    assert [m for m in PATHLIB_AND_ITS_OWN if m in loaded] == []
    assert_nothing_left(kr)
