"""The net layer on the real kernel: bridges, veths, namespaces, nftables NAT and ports.

Everything here happens between namespaces the test creates (and loopback); nothing is
sent to any outside address. Each test removes what it made, and checks it did.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from krat.net import bridge, firewall, ipam, netns
from krat.net.ports import PortMapping

pytestmark = pytest.mark.root

SERVER = r"""
import socket, sys
proto, port = sys.argv[1], int(sys.argv[2])
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
if proto == "tcp":
    s.listen(8)
print("ready", flush=True)
while True:
    if proto == "tcp":
        c, peer = s.accept()
        c.recv(100)
        c.sendall(("hello from %s:%d" % peer).encode())
        c.close()
    else:
        data, peer = s.recvfrom(100)
        s.sendto(("udp hello from %s:%d" % peer).encode(), peer)
"""

CLIENT = r"""
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.settimeout(3)
try:
    if proto == "tcp":
        s.connect((host, port)); s.sendall(b"hi"); print(s.recv(100).decode())
    else:
        s.sendto(b"hi", (host, port)); print(s.recvfrom(100)[0].decode())
except OSError as e:
    print("error", e); sys.exit(1)
"""


class Lab:
    """Networks and namespaces made by one test, all removed by `close`."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.tables: list[str] = []
        self.links: list[str] = []
        self.namespaces: list[Path] = []
        self.procs: list[subprocess.Popen] = []

    def network(self, internal: bool = False) -> tuple[str, str, ipaddress.IPv4Network]:
        net_id = secrets.token_hex(32)
        name = bridge.bridge_name(net_id)
        taken = bridge.host_routes()
        subnet = ipam.choose_subnet(taken)
        gw = ipam.default_gateway(subnet)
        self.links.append(name)
        bridge.ensure_bridge(name, str(gw), subnet.prefixlen)
        table = firewall.table_name(net_id)
        self.tables.append(table)
        firewall.setup_network(firewall.NetworkRules(table, name, str(subnet), internal))
        return table, name, subnet

    def container(self, net: tuple, index: int, internal: bool = False) -> tuple[Path, str]:
        _, name, subnet = net
        path = netns.create(self.tmp / f"ns-{secrets.token_hex(4)}")
        self.namespaces.append(path)
        addr = subnet.network_address + index
        veth = bridge.veth_name(secrets.token_hex(8))
        self.links.append(veth)
        gw = None if internal else str(ipam.default_gateway(subnet))
        bridge.attach(path, bridge.Interface(name, veth, "eth0", str(addr), subnet.prefixlen,
                                             ipam.mac_for(addr), gw))
        return path, str(addr)

    def other_host(self) -> tuple[Path, str, str]:
        """A namespace wired to the host by a /30 veth: a separate machine on a LAN."""
        path = netns.create(self.tmp / f"peer-{secrets.token_hex(4)}")
        self.namespaces.append(path)
        base = ipaddress.IPv4Address(f"10.254.{secrets.randbelow(256)}.{secrets.randbelow(64) * 4}")
        host_ip, peer_ip = str(base + 1), str(base + 2)
        veth = f"ktp{secrets.token_hex(4)}"
        self.links.append(veth)
        netns.run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", str(path)])
        netns.run(["ip", "addr", "add", f"{host_ip}/30", "dev", veth])
        netns.run(["ip", "link", "set", veth, "up"])
        netns.run(netns.exec_argv(path, ["ip", "-batch", "-"]),
                  input=f"link set lo up\naddr add {peer_ip}/30 dev eth0\nlink set eth0 up\n")
        return path, host_ip, peer_ip

    def serve(self, ns: Path, proto: str, port: int) -> None:
        proc = subprocess.Popen(netns.exec_argv(ns, [sys.executable, "-c", SERVER, proto, str(port)]),
                                stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stdout.readline().strip() == "ready"

    def client(self, ns: Path | None, proto: str, host: str, port: int) -> str:
        argv = [sys.executable, "-c", CLIENT, proto, host, str(port)]
        if ns is not None:
            argv = netns.exec_argv(ns, argv)
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
        for link in self.links:
            bridge.delete_link(link)
        for table in self.tables:
            firewall.teardown_network(table)
        for path in self.namespaces:
            netns.delete(path)


@pytest.fixture
def lab(tmp_path: Path):
    lab = Lab(tmp_path)
    yield lab
    lab.close()
    links = Path("/sys/class/net")
    assert not [n for n in lab.links if (links / n).exists()]
    assert not [t for t in lab.tables if firewall.table_exists(t)]
    assert str(tmp_path) not in Path("/proc/mounts").read_text()


def test_two_namespaces_on_one_bridge_talk(lab):
    net = lab.network()
    a, a_ip = lab.container(net, 2)
    b, b_ip = lab.container(net, 3)
    lab.serve(b, "tcp", 8000)
    assert lab.client(a, "tcp", b_ip, 8000).startswith(f"hello from {a_ip}:")
    ping = subprocess.run(netns.exec_argv(a, ["busybox", "ping", "-c1", "-W2", b_ip]), capture_output=True)
    assert ping.returncode == 0


def test_published_ports_from_loopback_and_another_host(lab):
    net = lab.network()
    table = net[0]
    box, box_ip = lab.container(net, 2)
    peer, host_ip, peer_ip = lab.other_host()
    lab.serve(box, "tcp", 80)
    lab.serve(box, "udp", 53)
    port = _free_port()
    udp_port = _free_port(socket.SOCK_DGRAM)
    firewall.publish(table, "c1", box_ip, [PortMapping(80, "tcp", "", port), PortMapping(53, "udp", "", udp_port)])
    # From the host over loopback: masqueraded to the gateway, as the container sees it.
    assert lab.client(None, "tcp", "127.0.0.1", port).startswith(f"hello from {ipam.default_gateway(net[2])}:")
    # From another machine: DNAT only, the container sees the real client address.
    assert lab.client(peer, "tcp", host_ip, port).startswith(f"hello from {peer_ip}:")
    assert lab.client(peer, "udp", host_ip, udp_port).startswith(f"udp hello from {peer_ip}:")
    assert lab.client(None, "udp", "127.0.0.1", udp_port).startswith("udp hello")
    firewall.unpublish(table, "c1")
    assert "dnat" not in firewall.list_table(table).split("chain ports")[1].split("}")[0]
    assert lab.client(peer, "tcp", host_ip, port).startswith("error")


def test_a_container_reaches_its_own_published_port(lab):
    net = lab.network()
    box, box_ip = lab.container(net, 2)
    lab.serve(box, "tcp", 80)
    port = _free_port()
    firewall.publish(net[0], "c1", box_ip, [PortMapping(80, "tcp", "", port)])
    gateway = str(ipam.default_gateway(net[2]))
    assert lab.client(box, "tcp", gateway, port).startswith("hello from")


def test_outbound_is_masqueraded(lab):
    net = lab.network()
    box, _ = lab.container(net, 2)
    peer, host_ip, peer_ip = lab.other_host()
    lab.serve(peer, "tcp", 9000)
    assert lab.client(box, "tcp", peer_ip, 9000).startswith(f"hello from {host_ip}:")


def test_internal_network_has_no_outbound_route(lab):
    net = lab.network(internal=True)
    box, _ = lab.container(net, 2, internal=True)
    mate, mate_ip = lab.container(net, 3, internal=True)
    peer, _, peer_ip = lab.other_host()
    lab.serve(peer, "tcp", 9000)
    lab.serve(mate, "tcp", 9000)
    route = subprocess.run(netns.exec_argv(box, ["ip", "route", "get", peer_ip]), capture_output=True, text=True)
    assert route.returncode != 0 and "unreachable" in route.stderr
    assert lab.client(box, "tcp", peer_ip, 9000).startswith("error")
    assert lab.client(box, "tcp", mate_ip, 9000).startswith("hello")
    assert f"ip saddr {net[2]} oifname" not in firewall.list_table(net[0])


def test_networks_are_isolated_from_each_other(lab):
    one, two = lab.network(), lab.network()
    a, _ = lab.container(one, 2)
    b, b_ip = lab.container(two, 2)
    lab.serve(b, "tcp", 9000)
    assert lab.client(a, "tcp", b_ip, 9000).startswith("error")


def test_bring_up_replaces_a_table_left_behind(lab):
    """A killed krat may leave its network's table: the fresh script's `create table` fails,
    and the whole-table replacement runs instead (one table, the rules once)."""
    net_id = secrets.token_hex(32)
    name, table = bridge.bridge_name(net_id), firewall.table_name(net_id)
    lab.links.append(name)
    lab.tables.append(table)
    netns.run(["nft", "add", "table", "ip", table])
    netns.run(["nft", "add", "chain", "ip", table, "stale"])
    subnet = ipam.choose_subnet(bridge.host_routes())
    rules = firewall.NetworkRules(table, name, str(subnet))
    assert bridge.ensure_bridge(name, str(ipam.default_gateway(subnet)), subnet.prefixlen, 1500,
                                firewall.render_network(rules, fresh=True), firewall.render_network(rules))
    listing = firewall.list_table(table)
    assert "chain stale" not in listing and listing.count("chain postrouting") == 1
    assert listing.count("masquerade") == 3


def test_new_namespace_has_only_loopback(tmp_path):
    path = netns.create(tmp_path / "ns")
    try:
        out = subprocess.run(netns.exec_argv(path, ["ip", "-o", "link"]), capture_output=True, text=True).stdout
        assert [line.split(":")[1].strip() for line in out.splitlines()] == ["lo"]
    finally:
        netns.delete(path)
    assert not path.exists() and str(path) not in Path("/proc/mounts").read_text()


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
