"""A host DNS server on 0.0.0.0:53 does not keep a user network's names from resolving.

Everything runs in a network namespace of the test's own, standing in for the host: the
dummy "host DNS server" bound to 0.0.0.0:53 there blocks no other test on this machine,
and the namespace's bridges and nftables tables vanish with it, even after a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import KratCLI

pytestmark = pytest.mark.root

# A host DNS server as strict as they come: wildcard address, UDP and TCP, no SO_REUSEADDR.
HOST_DNS = """
import socket, sys
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", 53))
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.bind(("0.0.0.0", 53))
tcp.listen(8)
print("ready", flush=True)
sys.stdin.read()
"""

# A DNS query over TCP (busybox's nslookup only speaks UDP); prints the first A record.
TCP_QUERY = r"""
import socket, struct, sys
name, server = sys.argv[1], sys.argv[2]
q = struct.pack(">HHHHHH", 0x4b52, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
with socket.create_connection((server, 53), timeout=5) as s:
    s.sendall(struct.pack(">H", len(q)) + q)
    size = struct.unpack(">H", s.recv(2))[0]
    reply = b""
    while len(reply) < size:
        reply += s.recv(size - len(reply))
print(socket.inet_ntoa(reply[-4:]) if struct.unpack(">H", reply[6:8])[0] else "no answer")
"""
HOST_PYTHON = ["-v", "/usr:/usr:ro", "-v", "/usr/lib:/lib:ro", "-v", "/usr/lib64:/lib64:ro"]


@dataclass
class NsKrat(KratCLI):
    """The krat CLI run inside the test's namespaces (and so is every process it starts)."""

    pins: tuple[Path, Path] = (Path(), Path())

    def argv(self, *args: str) -> list[str]:
        return ["nsenter", f"--net={self.pins[0]}", f"--mount={self.pins[1]}", *super().argv(*args)]


# A new network namespace needs its own sysfs (/sys/class/net shows the namespace of the
# sysfs mount, and krat looks there for its bridges), in a mount namespace of its own;
# the host's cgroup mounts are carried over. Mounts made there never reach the host's.
NAMESPACE_SETUP = """set -e
mount --rbind /sys/fs/cgroup "$1"
mount -t sysfs sysfs /sys
mount --move "$1" /sys/fs/cgroup
ip link set lo up
"""


@pytest.fixture
def pins(tmp_path):
    base = tmp_path / "ns"
    (base / "cgroup").mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(base), str(base)], check=True)
    subprocess.run(["mount", "--make-private", str(base)], check=True)  # a namespace pin may not be shared
    net, mnt = base / "net", base / "mnt"
    net.touch()
    mnt.touch()
    try:
        subprocess.run(["unshare", f"--net={net}", f"--mount={mnt}", "--propagation", "private",
                        "sh", "-c", NAMESPACE_SETUP, "sh", str(base / "cgroup")], check=True)
        yield net, mnt
    finally:
        for path in (net, mnt, base):
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def kr(krat, busybox_image, pins):
    inner = NsKrat(krat.root, krat.runroot, krat.env, pins)
    yield inner
    ids = inner("ps", "-aq", "--no-trunc").stdout.split()
    if ids:
        inner("rm", "-f", *ids, timeout=120)
    inner("network", "prune", "-f")
    left = responders(inner)
    for pid in left:  # last resort: a responder would keep the namespace alive
        os.kill(pid, signal.SIGKILL)
    assert not left, "a DNS responder outlived its network"


def responders(kr) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"krat.net.dnsserver" in cmd and str(kr.runroot).encode() in cmd:
            found.append(int(proc.name))
    return found


def nft(pins, *args: str) -> str:
    return subprocess.run(["nsenter", f"--net={pins[0]}", "nft", *args], capture_output=True, text=True).stdout


@pytest.fixture
def host_dns(pins):
    server = subprocess.Popen(["nsenter", f"--net={pins[0]}", sys.executable, "-c", HOST_DNS],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline() == "ready\n"
        yield server
    finally:
        server.kill()
        server.wait()


def test_names_resolve_while_a_host_dns_server_holds_port_53(kr, host_dns, pins):
    kr.ok("network", "create", "dnsnet")
    kr.ok("run", "-d", "--name", "server", "--network", "dnsnet", "busybox", "sleep", "120")
    ip = kr.ok("inspect", "-f", "{{.NetworkSettings.Networks.dnsnet.IPAddress}}", "server").stdout.strip()
    gateway = json.loads(kr.ok("network", "inspect", "dnsnet").stdout)[0]["IPAM"]["Config"][0]["Gateway"]
    out = kr.ok("run", "--rm", "--network", "dnsnet", "busybox", "nslookup", "server").stdout
    assert f"Address: {ip}" in out, out
    out = kr.ok("run", "--rm", "--network", "dnsnet", *HOST_PYTHON, "busybox", "/usr/bin/python3", "-c",
                TCP_QUERY, "server", gateway).stdout
    assert out.strip() == ip
    assert host_dns.poll() is None                                  # the host's server is left alone
    net_id = kr.ok("network", "inspect", "-f", "{{.Id}}", "dnsnet").stdout.strip()
    assert "dnat to" in nft(pins, "list", "chain", "ip", f"krat_{net_id[:12]}", "dns")

    # Port 53 frees up; a new responder (the last one was killed) takes it and drops the redirect.
    host_dns.kill()
    host_dns.wait()
    for pid in responders(kr):
        os.kill(pid, signal.SIGKILL)
    out = kr.ok("run", "--rm", "--network", "dnsnet", "busybox", "nslookup", "server").stdout
    assert f"Address: {ip}" in out, out
    assert "dnat to" not in nft(pins, "list", "chain", "ip", f"krat_{net_id[:12]}", "dns")
    kr.ok("rm", "-f", "server")
    deadline = time.monotonic() + 10
    while "krat" in nft(pins, "list", "tables") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "krat" not in nft(pins, "list", "tables")
