"""Fixtures for container tests: a krat CLI whose containers are always removed, and a
leak check (mounts, cgroups, monitor processes, runtime state, database rows)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

RUNTIMES = ["runc"]


def krat_runtime_available() -> bool:
    try:
        import krat.runtime.cli  # noqa: F401
    except ImportError:
        return False
    return True


if krat_runtime_available():
    RUNTIMES.append("krat")


@pytest.fixture(params=RUNTIMES)
def runtime(request) -> str:
    """The OCI runtime the containers of a lifecycle test run under (both, where both exist)."""
    name = request.param
    if name == "runc" and not shutil.which("runc"):
        pytest.fail("runc is not installed (scripts/setup.sh installs it)")
    return name


@pytest.fixture
def kr(krat, busybox_image, request):
    """The krat CLI with busybox:latest; removes every container of the test afterwards."""
    if "runtime" in request.fixturenames:
        name = request.getfixturevalue("runtime")
        if name == "krat":
            krat.env.pop("KRAT_RUNTIME", None)
        else:
            krat.env["KRAT_RUNTIME"] = name
    yield krat
    ids = krat("ps", "-aq", "--no-trunc").stdout.split()
    if ids:
        krat("rm", "-f", *ids, timeout=120)


