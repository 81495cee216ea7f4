"""Publishing a UDP port forgets the flows that began before its DNAT rule existed.

A client that sent to 127.0.0.1:PORT while nothing listened has a conntrack entry without
NAT; as long as it keeps its source port (and keeps sending), every datagram follows
that entry, not the new rule, unless krat deletes it when it publishes the port.
Traffic: loopback and krat's own bridge only.
"""

from __future__ import annotations

import random
import socket
import subprocess
import time
from pathlib import Path

import pytest

from krat.net import firewall

pytestmark = pytest.mark.root

UDP_ECHO = ("import socket, sys\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.bind(('0.0.0.0', int(sys.argv[1])))\n"
            "while True:\n"
            "    data, peer = s.recvfrom(100)\n"
            "    s.sendto(b'pong ' + data, peer)\n")
# busybox has no UDP responder that answers each datagram; the host's Python, read-only, does.
HOST_PYTHON = ["-v", "/usr:/usr:ro", "-v", "/usr/lib:/lib:ro", "-v", "/usr/lib64:/lib64:ro"]


@pytest.fixture
def kr(krat, busybox_image):
    if not Path("/usr/sbin/conntrack").exists():
        pytest.fail("conntrack is not installed (scripts/setup.sh installs it)")
    yield krat
    nets = krat.ok("network", "ls", "-q", "--no-trunc").stdout.split()
    ids = krat("ps", "-aq", "--no-trunc").stdout.split()
    if ids:
        krat("rm", "-f", *ids, timeout=120)
    krat("network", "prune", "-f")
    for n in nets:
        if Path(f"/sys/class/net/kr-{n[:10]}").exists() or firewall.table_exists(firewall.table_name(n)):
            subprocess.run(["ip", "link", "del", f"kr-{n[:10]}"], capture_output=True)
            subprocess.run(["nft", "delete", "table", "ip", firewall.table_name(n)], capture_output=True)
            raise AssertionError(f"network {n[:12]} left its bridge or table")


def free_udp_port() -> int:
    for _ in range(100):
        port = random.randint(20000, 29999)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                continue
        return port
    raise AssertionError("no free UDP port")


def flows_to(port: int, sport: int) -> list[str]:
    out = subprocess.run(["conntrack", "-L", "-p", "udp", "--orig-port-dst", str(port)],
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if f"sport={sport} " in line]


def test_a_client_that_sent_before_the_port_was_published_reaches_the_container(kr):
    # A container on the default bridge makes the host track connections (krat's NAT table).
    kr.ok("run", "-d", "--name", "keeper", "busybox", "sleep", "300")
    port = free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind(("127.0.0.1", 0))
        sport = client.getsockname()[1]
        client.settimeout(0.2)
        client.sendto(b"early", ("127.0.0.1", port))      # nothing listens: an entry without NAT
        assert flows_to(port, sport), "no conntrack entry for the early datagram"

        kr.ok("run", "-d", "--name", "echo", "-p", f"{port}:{port}/udp", *HOST_PYTHON, "busybox",
              "/usr/bin/python3", "-c", UDP_ECHO, str(port))
        assert exchange(client, port) == b"pong ping"      # same source port as the early datagram
        assert via(kr, "echo") in flows_to(port, sport)[0]  # the flow now goes through the DNAT rule

        # The container is replaced by one on another network (another address): the flow,
        # NATed to the old address, would keep going there.
        kr.ok("rm", "-f", "echo")
        client.sendto(b"lost", ("127.0.0.1", port))
        kr.ok("network", "create", "udpnet")
        kr.ok("run", "-d", "--name", "echo2", "--network", "udpnet", "-p", f"{port}:{port}/udp", *HOST_PYTHON,
              "busybox", "/usr/bin/python3", "-c", UDP_ECHO, str(port))
        assert exchange(client, port) == b"pong ping"
        assert via(kr, "echo2") in flows_to(port, sport)[0]


def exchange(client: socket.socket, port: int, timeout: float = 15.0) -> bytes | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.sendto(b"ping", ("127.0.0.1", port))
            return client.recvfrom(100)[0]
        except (TimeoutError, ConnectionRefusedError):
            continue
    return None


def via(kr, name: str) -> str:
    """The reply direction of a flow NATed to container `name` starts at its address."""
    return "src=" + kr.ok("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name).stdout.strip() + " "
