"""Cgroup file values from linux.resources (v1 and v2), and the v2 manager on a fake tree."""

from __future__ import annotations

import pytest

from krat.errors import InvalidArgument
from krat.oci.linux import DeviceRule, Resources
from krat.runtime.cgroups import (CGROUP_ROOT, Cgroup, always_allowed, cgroup_path, configured_root, cpu_weight,
                                  hierarchies, v1_values, v2_values)

MiB = 1024 * 1024


def test_v1_values_in_write_order():
    res = Resources(memory_limit=64 * MiB, memory_swap=128 * MiB, memory_reservation=32 * MiB, cpu_shares=512,
                    cpu_quota=50000, cpu_period=100000, pids_limit=100)
    assert v1_values(res) == [
        ("memory", "memory.limit_in_bytes", str(64 * MiB)),
        ("memory", "memory.memsw.limit_in_bytes", str(128 * MiB)),
        ("memory", "memory.soft_limit_in_bytes", str(32 * MiB)),
        ("cpu", "cpu.shares", "512"),
        ("cpu", "cpu.cfs_period_us", "100000"),  # period first: a quota is checked against it
        ("cpu", "cpu.cfs_quota_us", "50000"),
        ("pids", "pids.max", "100"),
    ]


def test_v1_without_swap_accounting_skips_memsw():
    assert [f for _, f, _ in v1_values(Resources(memory_limit=MiB, memory_swap=2 * MiB), has_memsw=False)] == \
        ["memory.limit_in_bytes"]


def test_v1_device_rules_then_the_always_allowed_devices():
    res = Resources(devices=(DeviceRule(False), DeviceRule(True, "c", 10, 229, "rw")))
    values = v1_values(res)
    assert values[0] == ("devices", "devices.deny", "a")
    assert values[1] == ("devices", "devices.allow", "c 10:229 rw")
    assert ("devices", "devices.allow", "c 1:3 rwm") in values
    assert ("devices", "devices.allow", "c 136:* rwm") in values
    assert len(values) == 2 + len(always_allowed())


def test_v2_values_convert_swap_and_shares():
    res = Resources(memory_limit=64 * MiB, memory_swap=96 * MiB, cpu_shares=1024, cpu_quota=25000,
                    cpu_period=50000, pids_limit=0)
    assert v2_values(res) == [("memory.max", str(64 * MiB)), ("memory.swap.max", str(32 * MiB)),
                              ("cpu.weight", "100"), ("cpu.max", "25000 50000"), ("pids.max", "max")]


def test_v2_unlimited_values():
    res = Resources(memory_limit=-1, memory_swap=-1, cpu_period=100000)
    assert v2_values(res) == [("memory.max", "max"), ("memory.swap.max", "max"), ("cpu.max", "max 100000")]


def test_v2_swap_below_memory_is_refused():
    with pytest.raises(InvalidArgument, match="memory.swap"):
        v2_values(Resources(memory_limit=64 * MiB, memory_swap=32 * MiB))


@pytest.mark.parametrize("shares,weight", [(2, 1), (1024, 100), (262144, 10000), (512, 59)])
def test_cpu_weight(shares, weight):
    assert cpu_weight(shares) == weight


def test_cgroup_path():
    assert cgroup_path("", "abc") == "/krat/abc"
    assert cgroup_path("/a/b/", "abc") == "/a/b"
    assert cgroup_path("rel/x", "abc") == "/rel/x"
    assert cgroup_path("system.slice:krat:abc", "abc") == "/krat-abc.scope"
    with pytest.raises(InvalidArgument, match="cgroupsPath"):
        cgroup_path("/krat/../../etc", "abc")


def test_hierarchies_from_mountinfo():
    text = ("32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
            "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
            "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
            "22 1 0:5 / /proc rw - proc proc rw\n")
    hs = hierarchies(text)
    assert [h.mountpoint for h in hs] == ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"]
    assert hs[0].controllers == ("cpu", "cpuacct")
    assert hs[1].options == "xattr,name=systemd"
    assert hs[2].controllers == ()


def test_v2_manager_on_a_fake_tree(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids io\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    cg = Cgroup("/krat/c1", root=str(tmp_path))
    assert cg.v2
    cg.create()
    leaf = tmp_path / "krat" / "c1"
    assert leaf.is_dir()
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu +memory +pids +io"
    for name in ("memory.max", "pids.max"):  # the kernel creates these with the directory
        (leaf / name).write_text("max\n")
    cg.apply(Resources(memory_limit=MiB, pids_limit=5))
    assert (leaf / "memory.max").read_text() == str(MiB)
    assert (leaf / "pids.max").read_text() == "5"
    (leaf / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert cg.oom_kills() == 1
    (leaf / "cgroup.events").write_text("populated 1\nfrozen 0\n")
    assert not cg.frozen()


def test_configured_root_names_a_cgroup2_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("KRAT_CGROUP2_ROOT", raising=False)
    assert configured_root() == CGROUP_ROOT
    monkeypatch.setenv("KRAT_CGROUP2_ROOT", str(tmp_path) + "/")
    with pytest.raises(InvalidArgument, match="not a cgroup2 directory"):
        configured_root()
    (tmp_path / "cgroup.controllers").write_text("\n")
    assert configured_root() == str(tmp_path)


def test_v2_limit_without_its_controller_names_the_controller(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    cg = Cgroup("/krat/c2", root=str(tmp_path))
    cg.create()
    (tmp_path / "krat" / "c2" / "cgroup.controllers").write_text("cpu\n")
    with pytest.raises(InvalidArgument, match=f"the memory controller is not enabled in cgroup2 {tmp_path} "
                                              r"\(enabled: cpu\)"):
        cg.apply(Resources(memory_limit=MiB))
