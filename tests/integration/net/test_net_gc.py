"""`krat system prune` and `krat network prune` remove what crashed containers left in the
kernel: namespace pins, veths, published-port rules, bridges, nftables tables and DNS
responders. Crashes are real: the monitor and the container's process are killed -9.
"""

from __future__ import annotations

import json
import marshal
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from krat.net import firewall

pytestmark = pytest.mark.root


def _cmdlines() -> dict[int, bytes]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                out[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
    return out


def monitor_pid(runroot: Path, cid: str) -> int:
    for pid, cmd in _cmdlines().items():
        if b"krat.engine.monitor" in cmd:
            args = cmd.split(b"\0")
            if b"--early" in args:   # `run`'s monitor: ... --early FD ID CGROUPS NETNS RUNDIR
                at = args.index(b"--early")
                if args[at + 2].decode() == cid and args[at + 5].decode().startswith(str(runroot)):
                    return pid
                continue
            try:
                cfg = marshal.loads(bytes.fromhex(cmd.split(b"\0")[-2].decode()))
            except (ValueError, EOFError, IndexError):
                continue
            if cfg.get("id") == cid and cfg.get("dir", "").startswith(str(runroot)):
                return pid
    raise AssertionError(f"no monitor found for {cid[:12]}")


def dns_pids(runroot: Path) -> list[int]:
    return [pid for pid, cmd in _cmdlines().items()
            if b"krat.net.dnsserver" in cmd and str(runroot).encode() in cmd]


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except (OSError, IndexError):
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} did not die")


def crash(kr, name: str) -> None:
    """kill -9 the monitor first (so nobody records the exit or cleans up), then the process."""
    cid = kr.ok("inspect", "-f", "{{.Id}}", name).stdout.strip()
    pid = int(kr.ok("inspect", "-f", "{{.State.Pid}}", name).stdout)
    monitor = monitor_pid(kr.runroot, cid)
    os.kill(monitor, signal.SIGKILL)
    wait_gone(monitor)
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def leftovers(kr, net_id: str, cid: str, veth: str) -> list[str]:
    """What of the container and its network is still in the kernel (run as the raw state,
    without a krat command that could clean up on the way)."""
    table = firewall.table_name(net_id)
    found = []
    if (kr.runroot / "netns" / cid).exists():
        found.append("netns pin")
    if link_exists(veth):
        found.append(f"veth {veth}")
    if link_exists(f"kr-{net_id[:10]}"):
        found.append("bridge")
    if firewall.table_exists(table):
        found.append("nft table")
        if f"c={cid}" in firewall.list_table(table):
            found.append("DNAT rule")
    if dns_pids(kr.runroot):
        found.append("DNS responder")
    return found


@pytest.fixture
def kr(krat, busybox_image):
    yield krat
    ids = krat("ps", "-aq", "--no-trunc").stdout.split()
    if ids:
        krat("rm", "-f", *ids, timeout=120)
    nets = krat("network", "ls", "-q", "--no-trunc").stdout.split()
    krat("network", "prune", "-f")
    for pid in dns_pids(krat.runroot):  # last resort, so one failure does not leak a process
        os.kill(pid, signal.SIGKILL)
    for n in nets:
        subprocess.run(["ip", "link", "del", f"kr-{n[:10]}"], capture_output=True)
        subprocess.run(["nft", "delete", "table", "ip", firewall.table_name(n)], capture_output=True)
    for pin in (krat.runroot / "netns").glob("*") if (krat.runroot / "netns").exists() else ():
        subprocess.run(["umount", "-l", str(pin)], capture_output=True)


def start_victim(kr) -> tuple[str, str, str]:
    net_id = kr.ok("network", "create", "gcnet").stdout.strip()
    cid = kr.ok("run", "-d", "--name", "victim", "--network", "gcnet", "-p", "127.0.0.1::7000",
                "-p", "127.0.0.1::7001/udp", "busybox", "sleep", "300").stdout.strip()
    veth = json.loads(kr.ok("inspect", "victim").stdout)[0]["NetworkSettings"]["Networks"]["gcnet"]["EndpointID"]
    assert leftovers(kr, net_id, cid, veth) == ["netns pin", f"veth {veth}", "bridge", "nft table", "DNAT rule",
                                                "DNS responder"]
    crash(kr, "victim")
    assert leftovers(kr, net_id, cid, veth), "the crash left nothing to collect"
    return net_id, cid, veth


def test_system_prune_removes_a_crashed_containers_leftovers(kr):
    net_id, cid, veth = start_victim(kr)
    out = kr.ok("system", "prune", "-f").stdout
    assert f"Deleted Containers:\n{cid}\n" in out
    assert "Deleted Networks:\ngcnet\n" in out
    assert out.splitlines()[-1].startswith("Total reclaimed space: ")
    assert leftovers(kr, net_id, cid, veth) == []
    assert kr.ok("ps", "-aq").stdout == ""
    assert kr.ok("network", "ls", "--format", "{{.Name}}").stdout.split() == ["bridge", "host", "none"]


def test_network_prune_collects_the_leftovers_and_keeps_the_container(kr):
    """The crashed container stays (it is only exited), its kernel objects go; it starts again."""
    net_id, cid, veth = start_victim(kr)
    assert kr.ok("network", "prune", "-f").stdout == ""  # gcnet still has a (stopped) container
    assert leftovers(kr, net_id, cid, veth) == []
    assert kr.ok("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout.split() == ["victim", "exited"]
    kr.ok("start", "victim")
    assert "7000/tcp" in kr.ok("port", "victim").stdout
    kr.ok("rm", "-f", "victim")


def test_prune_removes_pins_and_responder_folders_no_row_knows(kr):
    """A krat killed between steps can leave state no database row describes: a namespace
    pin of a container that is gone, the folder of a network that was removed."""
    pins = kr.runroot / "netns"
    pins.mkdir(parents=True, exist_ok=True)
    stray = pins / ("ab" * 32)
    stray.touch()
    subprocess.run(["unshare", f"--net={stray}", "true"], check=True)
    folder = kr.runroot / "networks" / ("cd" * 32)
    folder.mkdir(parents=True)
    (folder / "records.json").write_text('{"names": {}}')
    assert str(stray) in Path("/proc/mounts").read_text()
    kr.ok("network", "prune", "-f")
    assert not stray.exists() and str(stray) not in Path("/proc/mounts").read_text()
    assert not folder.exists()


def test_prune_spares_a_container_that_is_being_started(kr):
    """While `start` holds a container's start lock its network is plugged in but its status
    is not running yet: prune must neither take that network away nor remove the container."""
    from krat.engine.config import Paths
    from krat.engine.containers import ContainerService

    net_id = kr.ok("network", "create", "gcnet").stdout.strip()
    cid = kr.ok("create", "--name", "starting", "--network", "gcnet", "busybox", "sleep", "300").stdout.strip()
    svc = ContainerService(Paths.resolve(str(kr.root), str(kr.runroot)))
    lock = svc._start_lock(cid)
    try:
        assert svc._start_lock(cid, wait=False) == -1
        svc.networking().start(cid, "starting")  # what `start` does before the monitor runs the process
        kr.ok("system", "prune", "-f")
        kr.ok("network", "prune", "-f")
        assert kr.ok("ps", "-aq", "--no-trunc").stdout.split() == [cid]
        assert (kr.runroot / "netns" / cid).exists() and link_exists(f"kr-{net_id[:10]}")
    finally:
        os.close(lock)
        svc.db.close()
    kr.ok("system", "prune", "-f")
    assert kr.ok("ps", "-aq").stdout == ""
    assert not (kr.runroot / "netns" / cid).exists() and not link_exists(f"kr-{net_id[:10]}")
    assert not firewall.table_exists(firewall.table_name(net_id)) and not dns_pids(kr.runroot)
