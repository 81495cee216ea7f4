"""A test's podman (tests/peers.py) leaves nothing of its network backend on the host, and
its cleanup takes nothing that is not podman's: krat's table and the host's own iptables
chain survive it. Traffic: none leaves the podman container's own network.
"""

from __future__ import annotations

import ipaddress
import secrets
import subprocess
from pathlib import Path

import pytest

import podman_net
from peers import Podman
from krat.net import firewall

pytestmark = [pytest.mark.root, pytest.mark.interop]


def free_subnet() -> str:
    routed = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    for _ in range(50):
        subnet = ipaddress.ip_network(f"10.253.{secrets.randbelow(256)}.0/24")
        if str(subnet.network_address)[:-1] not in routed:
            return str(subnet)
    raise AssertionError("no free subnet in 10.253.0.0/16")


def podman_objects(before: podman_net.Snapshot) -> list[str]:
    now = podman_net.snapshot()
    found = [f"chain {' '.join(c)}" for c in now.chains - before.chains if podman_net.is_podmans_chain(*c)]
    found += [f"table {' '.join(t)}" for t in now.tables - before.tables if t[1] in podman_net.IPTABLES_TABLES
              or t in podman_net.OWN_TABLES]
    found += [f"link {name}" for name in now.links - before.links if name.startswith(podman_net.LINK_PREFIXES)]
    return sorted(found)


@pytest.fixture
def host_chain():
    """A chain of 'the host's' in iptables' filter table, with a jump to it from FORWARD."""
    name = f"KRATHOST{secrets.token_hex(3).upper()}"
    had_table = ("ip", "filter") in podman_net.snapshot().tables
    subprocess.run(["iptables", "-w", "-N", name], check=True)
    subprocess.run(["iptables", "-w", "-A", "FORWARD", "-j", name], check=True)
    yield name
    subprocess.run(["iptables", "-w", "-D", "FORWARD", "-j", name], capture_output=True)
    subprocess.run(["iptables", "-w", "-X", name], capture_output=True)
    if not had_table:
        subprocess.run(["nft", "delete", "table", "ip", "filter"], capture_output=True)  # fails if others use it


@pytest.fixture
def krat_net(krat, busybox_image):
    net_id = krat.ok("network", "create", "kept").stdout.strip()
    krat.ok("run", "-d", "--name", "kept", "--network", "kept", "busybox", "sleep", "120")
    yield net_id
    krat("rm", "-f", "kept")
    krat("network", "rm", "kept")
    assert not firewall.table_exists(firewall.table_name(net_id))


def test_podman_on_a_bridge_network_leaves_nothing_and_takes_nothing_else(busybox_tar, host_chain, krat_net):
    before = podman_net.snapshot()
    name = f"kpeer{secrets.token_hex(3)}"
    with Podman() as podman:
        podman.ok("import", str(busybox_tar), "bb:1")
        podman.ok("network", "create", "--subnet", free_subnet(), name)
        out = podman.ok("run", "--rm", "--network", name, "bb:1", "ip", "-4", "addr", "show", "eth0").stdout
        assert b"inet 10.253." in out
        made = podman_objects(before)
        assert made, "podman made no firewall chain or bridge: this test proves nothing here"
    assert podman.network_problems == ""
    assert podman_objects(before) == []
    assert not Path(f"/var/lib/cni/networks/{name}").exists()
    rules = subprocess.run(["iptables", "-w", "-S", "FORWARD"], capture_output=True, text=True).stdout
    assert f"-A FORWARD -j {host_chain}" in rules                 # the host's chain and jump survive
    assert firewall.table_exists(firewall.table_name(krat_net))   # and krat's table
