"""The cgroup v2 manager on a real v2 hierarchy: join, freeze/thaw, processes, removal.

Hosts with cgroups v2 have it at /sys/fs/cgroup; hybrid hosts (like CI's) at
/sys/fs/cgroup/unified, without controllers, which is enough for these operations.
"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from krat.runtime.cgroups import Cgroup, is_v2

pytestmark = pytest.mark.root


def _v2_root() -> str:
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if is_v2(root):
            return root
    if os.environ.get("KRAT_TEST_STRICT") == "1":
        pytest.fail("no cgroup v2 hierarchy is mounted")
    pytest.skip("no cgroup v2 hierarchy is mounted")
    return ""


@pytest.fixture
def cgroup():
    root = _v2_root()
    cg = Cgroup(f"/krat-v2-test/{uuid.uuid4().hex[:12]}", root=root)
    cg.create()
    yield cg
    for pid in cg.procs():
        os.kill(pid, 9)
    cg.destroy()


def test_join_freeze_thaw_destroy(cgroup):
    assert cgroup.v2
    proc = subprocess.Popen(["sleep", "100"])
    try:
        cgroup.join(proc.pid)
        assert cgroup.procs() == [proc.pid]
        cgroup.freeze(True)
        assert cgroup.frozen()
        cgroup.freeze(False)
        assert not cgroup.frozen()
    finally:
        proc.kill()
        proc.wait()
    assert cgroup.procs() == []
    cgroup.destroy()
    assert not os.path.exists(cgroup.dirs[""])
