"""NetworkService as the engine uses it (configure, attach, detach, forget), with processes
the test starts inside the attached namespaces standing in for containers."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
from pathlib import Path

import pytest

from krat.db import open_database
from krat.engine.config import Paths
from krat.engine.networks import NetworkCreate, NetworkingRequest, NetworkService
from krat.errors import Conflict, InvalidArgument, NotFound
from krat.net import bridge, firewall, netns

pytestmark = pytest.mark.root


@pytest.fixture
def svc(state_dirs):
    root, runroot = state_dirs
    paths = Paths(str(root), str(runroot))
    service = NetworkService(open_database(paths.db), paths)
    procs: list[subprocess.Popen] = []
    service.procs = procs
    yield service
    for proc in procs:
        proc.kill()
        proc.wait()
    for cid, in service.db.query("SELECT container_id FROM container_networking"):
        service.forget(cid)
    nets = service.list()
    for rec in nets:
        service.teardown(rec)
    leftovers = [rec.id for rec in nets if bridge.link_exists(bridge.bridge_name(rec.id))
                 or firewall.table_exists(firewall.table_name(rec.id))]
    assert not leftovers
    assert str(runroot) not in Path("/proc/mounts").read_text()


def start(svc, name: str, req: NetworkingRequest = NetworkingRequest(), exposed=()) -> tuple[str, object]:
    cid = secrets.token_hex(32)
    svc.configure(cid, name, req, tuple(exposed))
    return cid, svc.attach(cid, cid[:12])


def in_ns(svc, att, *argv: str, background: bool = False):
    cmd = netns.exec_argv(Path(att.netns_path), list(argv))
    if background:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        svc.procs.append(proc)
        return proc
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def httpd(svc, att, tmp_path: Path, body: str, port: int = 80) -> None:
    www = tmp_path / f"www-{secrets.token_hex(3)}"
    www.mkdir()
    (www / "index.html").write_text(body)
    in_ns(svc, att, "busybox", "httpd", "-f", "-p", str(port), "-h", str(www), background=True)
    for _ in range(100):
        if "LISTEN" in in_ns(svc, att, "busybox", "netstat", "-ltn").stdout:
            return
    raise AssertionError("httpd did not start")


def test_names_resolve_on_a_user_network(svc, tmp_path):
    svc.create(NetworkCreate("appnet"))
    server, s_att = start(svc, "server", NetworkingRequest("appnet", aliases=("web",)))
    client, c_att = start(svc, "client", NetworkingRequest("appnet"))
    httpd(svc, s_att, tmp_path, "hello by name\n")
    resolv = Path(c_att.resolv_conf_path).read_text()
    gateway = svc.inspect("appnet")["IPAM"]["Config"][0]["Gateway"]
    assert f"nameserver {gateway}" in resolv
    for host in ("server", "web", server[:12]):
        # busybox wget reads /etc/resolv.conf; point it at the container's file with a mount ns.
        out = subprocess.run(["unshare", "-m", "sh", "-c",
                              f"mount --bind {c_att.resolv_conf_path} /etc/resolv.conf && "
                              f"nsenter --net={c_att.netns_path} busybox wget -q -O - http://{host}/"],
                             capture_output=True, text=True, timeout=30)
        assert out.stdout == "hello by name\n", (host, out.stderr)
    info = svc.inspect("appnet")
    assert {c["Name"] for c in info["Containers"].values()} == {"server", "client"}
    # the server is recreated with a new address: the name follows it
    svc.forget(server)
    server2, s2 = start(svc, "server", NetworkingRequest("appnet", ip=None))
    records = json.loads(Path(svc.network_dir(info["Id"]), "records.json").read_text())
    assert records["names"]["server"] == list(s2.ips)
    svc.forget(client)
    svc.forget(server2)
    assert not Path(svc.network_dir(info["Id"]), "dns.pid").exists()
    assert not bridge.link_exists(bridge.bridge_name(info["Id"]))


def test_default_bridge_resolves_no_names(svc):
    _, att = start(svc, "one")
    resolv = Path(att.resolv_conf_path).read_text()
    rec = svc.get("bridge")
    assert rec.gateway not in resolv
    assert not Path(svc.network_dir(rec.id), "records.json").exists()
    assert att.ips[0].startswith(rec.subnet.rsplit(".", 2)[0])


def test_none_leaves_the_namespace_to_the_runtime(svc):
    """--network none: nothing to make or remove here; the runtime's new namespace has only
    lo, up (tests/integration/net/test_run_cli.py checks that through the CLI)."""
    _, att = start(svc, "alone", NetworkingRequest("none"))
    assert att.private and att.netns_path is None
    assert att.oci_namespace() == {"type": "network"}


def test_published_port_and_krat_port_rows(svc, tmp_path):
    cid, att = start(svc, "web", NetworkingRequest(publish=("127.0.0.1::80",)), exposed=["80/tcp"])
    httpd(svc, att, tmp_path, "published\n")
    (mapping,) = att.ports
    with socket.create_connection(("127.0.0.1", mapping.host_port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert b"published" in conn.makefile("rb").read()
    settings = svc.network_settings(cid)
    assert settings["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(mapping.host_port)}]}
    assert svc.ports_text(cid) == f"127.0.0.1:{mapping.host_port}->80/tcp"


def test_port_in_use_fails_before_start_and_leaves_nothing(svc):
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        cid = secrets.token_hex(32)
        svc.configure(cid, "clash", NetworkingRequest(publish=(f"{port}:80",)))
        with pytest.raises(Conflict, match=f"{port}"):
            svc.attach(cid, "x")
    assert not os.path.exists(svc.netns_path(cid))
    assert not bridge.link_exists(bridge.bridge_name(svc.get("bridge").id))
    assert svc.db.query("SELECT * FROM port_mappings") == []
    assert not any(e.ip for e in svc.db.query("SELECT ip FROM endpoints WHERE ip IS NOT NULL"))


def test_bad_requests_create_nothing(svc):
    svc.create(NetworkCreate("fixed", subnet="10.77.7.0/24"))
    with pytest.raises(InvalidArgument, match="not a usable address of subnet 10.77.7.0/24"):
        svc.configure("c" * 64, "x", NetworkingRequest("fixed", ip="10.77.8.5"))
    with pytest.raises(NotFound, match="network nope not found"):
        svc.configure("c" * 64, "x", NetworkingRequest("nope"))
    with pytest.raises(InvalidArgument, match="hostPort"):
        svc.configure("c" * 64, "x", NetworkingRequest(publish=("99999:80",)))
    with pytest.raises(Conflict, match="overlaps with network fixed"):
        svc.create(NetworkCreate("over", subnet="10.77.0.0/16"))
    assert svc.db.query("SELECT * FROM container_networking") == []
    assert [n.name for n in svc.list()] == ["bridge", "host", "none", "fixed"]


def test_static_ip_and_connect_disconnect(svc):
    svc.create(NetworkCreate("one", subnet="10.77.9.0/24"))
    svc.create(NetworkCreate("two"))
    cid, att = start(svc, "multi", NetworkingRequest("one", ip="10.77.9.50"))
    assert att.ips == ("10.77.9.50",)
    svc.connect("two", "multi", aliases=("second",))
    links = in_ns(svc, att, "ip", "-o", "-4", "addr").stdout
    assert "eth1" in links and "10.77.9.50" in links
    with pytest.raises(Conflict, match="active endpoints"):
        svc.remove("two")
    svc.disconnect("two", "multi")
    assert "eth1" not in in_ns(svc, att, "ip", "-o", "link").stdout
    assert not bridge.link_exists(bridge.bridge_name(svc.get("two").id))
    svc.remove("two")


CONCURRENT = r"""
import secrets, sys
from krat.db import open_database
from krat.engine.config import Paths
from krat.engine.networks import NetworkingRequest, NetworkService
paths = Paths(sys.argv[1], sys.argv[2])
svc = NetworkService(open_database(paths.db), paths)
cid = secrets.token_hex(32)
svc.configure(cid, "c" + cid[:8], NetworkingRequest(sys.argv[3], publish=("80",)))
att = svc.attach(cid, "h")
print(att.ips[0], att.ports[0].host_port)
"""


@pytest.mark.parametrize("network", ["bridge", "appnet"])
def test_concurrent_runs_get_distinct_addresses_and_ports(svc, network):
    import sys

    if network != "bridge":
        svc.create(NetworkCreate(network))
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, str(svc.paths.root), str(svc.paths.runroot),
                               network], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1] for r in results]
    ips = [r[0].split()[0] for r in results]
    host_ports = [r[0].split()[1] for r in results]
    assert len(set(ips)) == 6 and len(set(host_ports)) == 6
    rec = svc.get(network)
    assert len(svc.inspect(network)["Containers"]) == 6
    assert bridge.link_exists(bridge.bridge_name(rec.id))
    records = Path(svc.network_dir(rec.id), "records.json")
    assert records.exists() == (network != "bridge")


def test_gc_cleans_what_a_killed_run_left(svc):
    from krat.engine.containernet import ContainerNet

    cid, att = start(svc, "orphan", NetworkingRequest(publish=("80",)))
    rec = svc.get("bridge")
    assert bridge.link_exists(bridge.bridge_name(rec.id))
    cn = ContainerNet(svc.db, svc.paths)
    cn.gc(lambda cid: contextlib.nullcontext(True))  # no container runs: as if krat and monitor were killed -9
    assert not bridge.link_exists(bridge.bridge_name(rec.id))
    assert not firewall.table_exists(firewall.table_name(rec.id))
    assert not Path(att.netns_path).exists()
    assert svc.db.query("SELECT * FROM port_mappings") == []


def test_publishing_on_a_foreign_address_is_refused(svc):
    cid = secrets.token_hex(32)
    svc.configure(cid, "foreign", NetworkingRequest(publish=("192.0.2.250:8080:80",)))
    with pytest.raises(InvalidArgument, match="not an address of this host"):
        svc.attach(cid, "h")
    assert not os.path.exists(svc.netns_path(cid))
