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
    try:
        os.rmdir(os.path.dirname(cg.dirs[""]))
    except OSError:
        pass  # another test's cgroup is still there


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


def _open_devices(cgroup) -> list[str]:
    script = ("read x; head -c1 /dev/zero >/dev/null && echo zero-ok; "
              "(exec 3</dev/loop-control) 2>/dev/null && echo loop-ok || echo loop-denied")
    proc = subprocess.Popen(["sh", "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        cgroup.join(proc.pid)
        out, _ = proc.communicate("go\n", timeout=20)
    finally:
        proc.kill()
        proc.wait()
    return out.split()


@pytest.mark.parametrize("rules,verdict", [
    ((), "loop-ok"),
    (("deny-all",), "loop-denied"),
    (("deny-all", "allow c 10:237 r"), "loop-ok"),
    (("deny-all", "allow c 10:237 w"), "loop-denied"),
    (("deny-all", "allow c 10:* rwm"), "loop-ok"),
    (("deny-all", "allow c 10:237 r", "deny c *:* r"), "loop-denied"),
])
def test_device_rules_through_an_ebpf_program(cgroup, rules, verdict):
    from krat.oci.linux import DeviceRule, Resources

    if not os.path.exists("/dev/loop-control"):
        pytest.skip("needs /dev/loop-control on the host")
    table = {"deny-all": DeviceRule(False), "allow c 10:237 r": DeviceRule(True, "c", 10, 237, "r"),
             "allow c 10:237 w": DeviceRule(True, "c", 10, 237, "w"), "allow c 10:* rwm": DeviceRule(True, "c", 10),
             "deny c *:* r": DeviceRule(False, "c", None, None, "r")}
    cgroup.apply(Resources(devices=tuple(table[r] for r in rules)))
    # /dev/zero stays usable: the runtime's always-allowed devices come after the spec's rules.
    assert _open_devices(cgroup) == ["zero-ok", verdict]
