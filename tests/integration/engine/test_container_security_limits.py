"""Security defaults seen from inside the container, and cgroup limits (v1 or v2)."""

from __future__ import annotations

import json
import re
import os

import pytest

from engine_helpers import wait_for

pytestmark = pytest.mark.root

DOCKER_CAPS = 0xa80425fb  # the 14 capabilities Docker grants


def status_field(kr, name: str, *flags: str) -> str:
    out = kr.ok("run", "--rm", *flags, "busybox", "grep", f"^{name}:", "/proc/self/status").stdout
    return out.split(":", 1)[1].strip()


def profiles_exist() -> bool:
    try:
        from krat.engine.profiles import default_seccomp  # noqa: F401
    except ImportError:
        return False
    return True


def test_default_capabilities_and_privileges(kr, runtime):
    assert int(status_field(kr, "CapEff"), 16) == DOCKER_CAPS
    assert int(status_field(kr, "CapBnd"), 16) == DOCKER_CAPS
    assert status_field(kr, "NoNewPrivs") == "0"
    assert status_field(kr, "NoNewPrivs", "--security-opt", "no-new-privileges") == "1"
    cap_net_admin = 1 << 12
    assert int(status_field(kr, "CapEff", "--cap-add", "NET_ADMIN"), 16) == DOCKER_CAPS | cap_net_admin
    assert int(status_field(kr, "CapEff", "--cap-drop", "ALL"), 16) == 0
    assert int(status_field(kr, "CapEff", "-u", "nobody"), 16) == 0   # no ambient caps for non-root


def test_seccomp_mode(kr, runtime):
    if not profiles_exist():
        pytest.xfail("the default seccomp profile (krat.engine.profiles) has not landed yet")
    assert status_field(kr, "Seccomp") == "2"
    assert status_field(kr, "Seccomp", "--security-opt", "seccomp=unconfined") == "0"


def test_filesystem_and_proc_protections(kr, runtime):
    script = ("mount -t tmpfs none /tmp 2>/dev/null && echo mount-ok; "
              "echo h > /proc/sysrq-trigger 2>/dev/null && echo sysrq-ok; "
              "echo -n masked=; cat /proc/keys /proc/timer_list /proc/interrupts | wc -c; "
              "echo -n pids=; ls /proc | grep -c '^[0-9]'; "
              "touch /etc/newfile && echo rootfs-rw")
    out = kr.ok("run", "--rm", "busybox", "sh", "-c", script).stdout
    assert "mount-ok" not in out and "sysrq-ok" not in out
    assert "masked=0" in out
    assert int(out.split("pids=")[1].split()[0]) <= 4          # host PIDs are invisible
    assert "rootfs-rw" in out
    ro = kr("run", "--rm", "--read-only", "busybox", "touch", "/etc/newfile")
    assert ro.returncode == 1 and "Read-only file system" in ro.stderr


def test_cgroup_and_proc_mounts_are_read_only_with_their_flags(kr, runtime):
    """Every cgroup hierarchy under /sys/fs/cgroup (v1: a bind each) and Docker's read-only
    /proc paths are read-only mounts that keep their other flags; nothing in them can be made."""
    script = ("cat /proc/self/mountinfo; for d in $(awk '$9 ~ /^cgroup/ {print $5}' /proc/self/mountinfo); do "
              "mkdir $d/x 2>/dev/null && echo made-$d; done; "
              "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo wrote-sys; true")
    out = kr.ok("run", "--rm", "--network", "none", "busybox", "sh", "-c", script).stdout
    assert "made-" not in out and "wrote-sys" not in out, out
    mounts = {line.split()[4]: (line.split(" - ")[1].split()[0], line.split()[5].split(","))
              for line in out.splitlines() if " - " in line}
    cgroup = [m for m, (fstype, _) in mounts.items() if fstype in ("cgroup", "cgroup2")]
    assert cgroup and all(m.startswith("/sys/fs/cgroup") for m in cgroup), out
    for m in cgroup + ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"]:
        assert {"ro", "nosuid", "nodev", "noexec"} <= set(mounts[m][1]), (m, mounts[m])


@pytest.mark.parametrize("network", ["none", "bridge"])
def test_read_only_binds_the_etc_files_read_only_too(kr, runtime, network, tmp_path):
    """As Docker: --read-only makes /etc/hosts, /etc/resolv.conf and /etc/hostname read-only,
    while a file the user binds there keeps the mode the user gave it."""
    write = "for f in hosts resolv.conf hostname; do echo >> /etc/$f 2>/dev/null && echo $f-rw; done; true"
    assert kr.ok("run", "--rm", "--read-only", "--network", network, "busybox", "sh", "-c", write).stdout == ""
    mine = tmp_path / "hosts"
    mine.write_text("127.0.0.1 localhost\n")
    out = kr.ok("run", "--rm", "--read-only", "--network", network, "-v", f"{mine}:/etc/hosts", "busybox",
                "sh", "-c", write).stdout.split()
    assert out == ["hosts-rw"]
    assert sorted(kr.ok("run", "--rm", "--network", network, "busybox", "sh", "-c", write).stdout.split()) == [
        "hostname-rw", "hosts-rw", "resolv.conf-rw"]


def test_privileged_lifts_the_defaults(kr, runtime):
    out = kr.ok("run", "--rm", "--privileged", "busybox", "sh", "-c",
                "mount -t tmpfs none /tmp && echo mount-ok; grep CapEff /proc/self/status").stdout
    assert "mount-ok" in out
    assert int(out.split("CapEff:")[1].split()[0], 16) & (1 << 21)   # CAP_SYS_ADMIN


def test_user_hostname_workdir_env_init(kr, runtime):
    out = kr.ok("run", "--rm", "-u", "33:5", "-w", "/tmp", "-h", "myhost", "-e", "A=1", "--env-file",
                "/dev/null", "busybox", "sh", "-c", "id -u; id -g; pwd; hostname; echo $A $HOSTNAME").stdout
    assert out.split("\n")[:5] == ["33", "5", "/tmp", "myhost", "1 myhost"]
    out = kr.ok("run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '").stdout
    assert out.startswith("/sbin/krat-init -- sh")
    hosts = kr.ok("run", "--rm", "--add-host", "db:10.1.2.3", "busybox", "cat", "/etc/hosts").stdout
    assert "10.1.2.3\tdb" in hosts and "127.0.0.1\tlocalhost" in hosts


def cgroup_file(cid: str, controller: str, name: str) -> str:
    for path in (f"/sys/fs/cgroup/{controller}/krat/{cid}/{name}", f"/sys/fs/cgroup/krat/{cid}/{name}"):
        if os.path.exists(path):
            with open(path) as f:
                return f.read().strip()
    raise AssertionError(f"no cgroup file {controller}/{name} for {cid}")


def test_resource_limits_reach_the_cgroup(kr, runtime):
    cid = kr.ok("run", "-d", "--memory", "64m", "--cpus", "1.5", "--cpu-shares", "512", "--pids-limit", "30",
                "--ulimit", "nofile=100:200", "busybox", "sleep", "100").stdout.strip()
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    if v2:
        assert cgroup_file(cid, "", "memory.max") == str(64 << 20)
        assert cgroup_file(cid, "", "cpu.max") == "150000 100000"
        assert cgroup_file(cid, "", "pids.max") == "30"
    else:
        assert cgroup_file(cid, "memory", "memory.limit_in_bytes") == str(64 << 20)
        assert cgroup_file(cid, "cpu", "cpu.cfs_quota_us") == "150000"
        assert cgroup_file(cid, "cpu", "cpu.shares") == "512"
        assert cgroup_file(cid, "pids", "pids.max") == "30"
    # PID 1's limits: an exec'd shell under runc 1.1 may get Go's raised soft NOFILE instead
    limits = kr.ok("exec", cid, "cat", "/proc/1/limits").stdout
    assert re.search(r"Max open files\s+100\s+200\s", limits), limits
    doc = json.loads(kr.ok("inspect", cid).stdout)[0]["HostConfig"]
    assert (doc["Memory"], doc["NanoCpus"], doc["PidsLimit"]) == (64 << 20, 1_500_000_000, 30)


def test_memory_hog_is_oom_killed(kr, runtime):
    proc = kr("run", "--name", "hog", "--memory", "32m", "--memory-swap", "32m", "busybox",
              "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1")
    assert proc.returncode == 137
    state = json.loads(kr.ok("inspect", "hog").stdout)[0]["State"]
    assert state["OOMKilled"] is True and state["ExitCode"] == 137


def test_fork_bomb_stops_at_pids_limit(kr, runtime):
    cid = kr.ok("run", "-d", "--pids-limit", "20", "busybox", "sh", "-c",
                "sh -c 'for i in $(seq 100); do sleep 30 & done'; echo spawned; exec sleep 30").stdout.strip()
    wait_for(lambda: "spawned" in kr.ok("logs", cid).stdout, what="the bomb to finish forking")
    assert int(cgroup_file(cid, "pids", "pids.current")) <= 20
    logs = kr.ok("logs", cid)
    assert "can't fork" in logs.stderr or "Resource temporarily unavailable" in logs.stderr
