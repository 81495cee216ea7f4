"""The network and volume services with real containers (runc bundles, busybox)."""

from __future__ import annotations

import secrets
import socket
import time
from pathlib import Path

import pytest

from krat.db import open_database
from krat.engine.config import Paths
from krat.engine.mountspec import parse_mount, parse_volume
from krat.engine.networks import NetworkCreate, NetworkingRequest, NetworkService
from krat.engine.volumes import VolumeService
from krat.net import bridge, firewall

from support import require_binary
from runc_bundles import Bundles

pytestmark = pytest.mark.root


@pytest.fixture
def bundles(tmp_path: Path, busybox_tar: Path):
    require_binary("runc")
    b = Bundles(tmp_path, busybox_tar)
    yield b
    b.close()


@pytest.fixture
def services(state_dirs):
    root, runroot = state_dirs
    paths = Paths(str(root), str(runroot))
    db = open_database(paths.db)
    net, vols = NetworkService(db, paths), VolumeService(db, paths)
    yield net, vols
    for (cid,) in db.query("SELECT container_id FROM container_networking"):
        net.forget(cid)
    for rec in net.list():
        net.teardown(rec)
        assert not bridge.link_exists(bridge.bridge_name(rec.id))
        assert not firewall.table_exists(firewall.table_name(rec.id))


def attach(net, name, req=NetworkingRequest(), exposed=()):
    cid = secrets.token_hex(32)
    net.configure(cid, name, req, tuple(exposed))
    return cid, net.attach(cid, name)


def test_wget_by_name_alias_and_short_id_on_a_user_network(services, bundles, tmp_path):
    net, _ = services
    net.create(NetworkCreate("appnet"))
    server, s_att = attach(net, "server", NetworkingRequest("appnet", aliases=("web",)))
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from server\n")
    bundles.start(["httpd", "-f", "-p", "80", "-h", "/www"], s_att.netns_path,
                  s_att.oci_mounts() + [{"destination": "/www", "type": "bind", "source": str(www),
                                         "options": ["rbind", "ro"]}])
    client, c_att = attach(net, "client", NetworkingRequest("appnet"))
    script = ("for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://server/ && break; sleep 0.3; done;"
              f" wget -q -O - http://web/ && wget -q -O - http://{server[:12]}/")
    out = bundles.run(["sh", "-c", script], c_att.netns_path, c_att.oci_mounts())
    assert out.stdout == "hello from server\n" * 3, out.stderr


def test_default_bridge_has_no_name_resolution(services, bundles):
    net, _ = services
    _, s_att = attach(net, "server")
    _, c_att = attach(net, "client")
    # (no lookup: on the default bridge it would go to the host's resolver, not a test peer)
    out = bundles.run(["cat", "/etc/resolv.conf", "/etc/hosts"], c_att.netns_path, c_att.oci_mounts())
    assert "\tserver" not in out.stdout
    assert f"nameserver {net.get('bridge').gateway}" not in out.stdout


def test_network_none_has_only_loopback(services, bundles):
    net, _ = services
    _, att = attach(net, "alone", NetworkingRequest("none"))
    out = bundles.run(["sh", "-c", "ls /sys/class/net"], att.netns_path, att.oci_mounts())
    assert out.stdout.split() == ["lo"]


def test_published_port_reaches_a_container(services, bundles, tmp_path):
    net, _ = services
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("published\n")
    cid, att = attach(net, "web", NetworkingRequest(publish=("80",)), exposed=["80/tcp"])
    bundles.start(["httpd", "-f", "-p", "80", "-h", "/www"], att.netns_path,
                  att.oci_mounts() + [{"destination": "/www", "type": "bind", "source": str(www),
                                       "options": ["rbind", "ro"]}])
    (mapping,) = att.ports
    body = b""
    for _ in range(50):
        try:
            with socket.create_connection(("127.0.0.1", mapping.host_port), timeout=5) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                body = conn.makefile("rb").read()
                break
        except OSError:
            time.sleep(0.1)
    assert body.endswith(b"published\n")


def test_volume_shared_and_survives(services, bundles, tmp_path):
    _, vols = services
    for cid in ("a" * 64, "b" * 64):
        vols.prepare(cid, [parse_volume("shared:/data")])
    out = bundles.run(["sh", "-c", "echo kept > /data/file"], mounts=vols.oci_mounts("a" * 64))
    assert out.returncode == 0, out.stderr
    vols.release("a" * 64, remove_anonymous=True)
    out = bundles.run(["cat", "/data/file"], mounts=vols.oci_mounts("b" * 64))
    assert out.stdout == "kept\n"
    vols.release("b" * 64)


def test_bind_mounts_ro_and_rw(services, bundles, tmp_path):
    _, vols = services
    host = tmp_path / "host"
    host.mkdir()
    vols.prepare("c" * 64, [parse_volume(f"{host}:/ro:ro"), parse_volume(f"{host}:/rw")])
    out = bundles.run(["sh", "-c", "echo x > /rw/made; echo y > /ro/denied"], mounts=vols.oci_mounts("c" * 64))
    assert out.returncode != 0 and "Read-only file system" in out.stderr
    assert (host / "made").read_text() == "x\n" and not (host / "denied").exists()


def test_tmpfs_size_limit(services, bundles):
    _, vols = services
    vols.prepare("d" * 64, [parse_mount("type=tmpfs,target=/scratch,tmpfs-size=1m")])
    out = bundles.run(["sh", "-c", "dd if=/dev/zero of=/scratch/big bs=64k count=32 2>&1; ls -l /scratch/big"],
                      mounts=vols.oci_mounts("d" * 64))
    assert "No space left on device" in out.stdout
    assert int(out.stdout.split()[-5]) <= 1 << 20


def test_containernet_facade_end_to_end(state_dirs, bundles, tmp_path):
    """What `krat run` will do: flags -> create -> start -> runtime -> stop -> rm -v."""
    import argparse

    from krat.cli import netflags
    from krat.engine.containernet import ContainerNet

    root, runroot = state_dirs
    paths = Paths(str(root), str(runroot))
    cn = ContainerNet(open_database(paths.db), paths)
    parser = argparse.ArgumentParser()
    netflags.add_arguments(parser, engine_flags=True)
    args = parser.parse_args(["-v", "etcvol:/etc", "--add-host", "db:10.1.2.3", "--dns", "10.9.9.9",
                              "-p", "127.0.0.1::80", "--mount", "type=tmpfs,target=/t"])
    cid = secrets.token_hex(32)
    cn.create(cid, "facade", netflags.request_from(args, tmpfs=True), {"Volumes": {"/cache": {}}, "ExposedPorts": {"80/tcp": {}}})
    rootfs = tmp_path / "image-rootfs"
    rootfs.mkdir()
    import subprocess
    subprocess.run(["tar", "-xf", str(bundles.tar), "-C", str(rootfs)], check=True)
    started = cn.start(cid, "facadehost", rootfs)
    try:
        out = bundles.run(["sh", "-c", "cat /etc/passwd >/dev/null && grep db /etc/hosts && cat /etc/resolv.conf"
                                       " && ls /sys/class/net && mount | grep -c ' /t '"],
                          started.namespace["path"], started.mounts)
        assert "10.1.2.3\tdb" in out.stdout and "nameserver 10.9.9.9" in out.stdout, out.stderr
        assert "eth0" in out.stdout and out.stdout.split()[-1] == "1"
        info = cn.inspect(cid)
        assert info["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == started.ips[0]
        assert {m["Destination"] for m in info["Mounts"]} == {"/etc", "/cache", "/t"}
        assert cn.ports_text(cid).startswith("127.0.0.1:") and cn.ports_text(cid).endswith("->80/tcp")
    finally:
        cn.stop(cid)
    anonymous = cn.remove(cid, volumes=True)
    assert len(anonymous) == 1 and [v.name for v in cn.volumes.list()] == ["etcvol"]
    assert Path(paths.volumes, "etcvol", "_data", "passwd").exists()
    name = bridge.bridge_name(cn.networks.get("bridge").id)
    for _ in range(100):  # (removed by the stop itself; the loop only tolerates a slow kernel)
        if not bridge.link_exists(name):
            break
        time.sleep(0.05)
    assert not bridge.link_exists(name)


UPSTREAM = r"""
import socket, sys
from dnslib import RR, A, DNSRecord, QTYPE
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(4096)
    q = DNSRecord.parse(data)
    r = q.reply()
    if str(q.q.qname) == "outside.example." and q.q.qtype == QTYPE.A:
        r.add_answer(RR(q.q.qname, QTYPE.A, rdata=A("10.1.1.1"), ttl=5))
    s.sendto(r.pack(), peer)
"""


def test_other_names_are_forwarded_to_the_containers_dns(services, bundles):
    """--dns on a user network becomes the responder's upstream (here a fake one on loopback)."""
    import subprocess
    import sys

    net, _ = services
    upstream_ip = f"127.0.{secrets.randbelow(200) + 20}.{secrets.randbelow(200) + 20}"
    fake = subprocess.Popen([sys.executable, "-c", UPSTREAM, upstream_ip], stdout=subprocess.PIPE, text=True)
    try:
        assert fake.stdout.readline().strip() == "ready"
        net.create(NetworkCreate("fwdnet"))
        _, att = attach(net, "asker", NetworkingRequest("fwdnet", dns=(upstream_ip,)))
        out = bundles.run(["nslookup", "outside.example"], att.netns_path, att.oci_mounts())
        assert "10.1.1.1" in out.stdout, out.stdout + out.stderr
    finally:
        fake.kill()
        fake.wait()
