"""`--network none` without mounts: the engine runs such a container without the network
and volume code, and the container still gets its /etc files, the ones inspect shows; it
can be joined, restarted, listed and removed like any other."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
         "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")


def host_resolv_conf() -> str:
    try:
        return Path("/etc/resolv.conf").read_text()
    except OSError:
        return ""


def networking_row(kr, cid: str):
    from krat.db import networks, open_database

    db = open_database(kr.root / "krat.db")
    try:
        return networks.container_config(db, cid)
    finally:
        db.close()


def test_network_none_etc_files_are_the_ones_inspect_shows(kr, runtime):
    cid = kr.ok("run", "-d", "--name", "quiet", "--network", "none", "--hostname", "calm", "busybox",
                "sleep", "100").stdout.strip()
    doc = json.loads(kr.ok("inspect", "quiet").stdout)[0]
    inside = {path: kr.ok("exec", "quiet", "cat", path).stdout
              for path in ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname")}
    assert inside == {"/etc/hosts": HOSTS, "/etc/resolv.conf": host_resolv_conf(), "/etc/hostname": "calm\n"}
    for key, path in (("HostsPath", "/etc/hosts"), ("ResolvConfPath", "/etc/resolv.conf"),
                      ("HostnamePath", "/etc/hostname")):
        assert Path(doc[key]).read_text() == inside[path], key
    assert doc["HostConfig"]["NetworkMode"] == "none" and list(doc["NetworkSettings"]["Networks"]) == ["none"]
    assert networking_row(kr, cid)[1]["mode"] == "none"
    assert "eth0" not in kr.ok("exec", "quiet", "ip", "link").stdout

    # a guest in its namespace gets the same files
    guest = kr.ok("run", "--rm", "--network", "container:quiet", "busybox", "cat", "/etc/hosts").stdout
    assert guest == HOSTS
    # restarted by another process, listed, removed: rows and files go
    kr.ok("restart", "-t", "0", "quiet")
    assert kr.ok("exec", "quiet", "cat", "/etc/hosts").stdout == HOSTS
    assert kr.ok("ps", "--format", "{{.Names}} {{.Ports}}").stdout == "quiet \n"
    kr.ok("rm", "-f", "quiet")
    assert kr.ok("ps", "-aq").stdout == ""
    assert networking_row(kr, cid) is None
    assert not (kr.runroot / "netfiles" / cid).exists() and not (kr.root / "containers" / cid).exists()


def test_run_rm_network_none_loads_no_network_or_volume_code(kr, runtime):
    """The run as a user types it (the whole command, not a list of modules): its row is made,
    its container runs and is removed, without krat.net or the network and volume services."""
    proc = subprocess.run([kr.argv()[0], "-X", "importtime", *kr.argv("run", "--rm", "--network", "none",
                                                                       "busybox", "cat", "/etc/hosts")[1:]],
                          capture_output=True, text=True, env=kr.env, timeout=120)
    assert proc.returncode == 0 and proc.stdout == HOSTS, proc.stderr
    loaded = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "krat.engine.containernet" in loaded and "krat.db.container_networking" in loaded  # it saw the run
    for module in ("krat.net", "krat.engine.netattach", "krat.engine.networks", "krat.engine.volumes",
                   "krat.db.volumes", "krat.engine.mountspec", "krat.db.networks"):
        assert module not in loaded, module
    assert kr.ok("ps", "-aq").stdout == "" and not list((kr.runroot / "netfiles").glob("*"))


def test_network_none_with_add_host_takes_the_general_path(kr, runtime):
    out = kr.ok("run", "--rm", "--network", "none", "--add-host", "db:10.1.2.3", "busybox",
                "cat", "/etc/hosts").stdout
    assert out == HOSTS + "10.1.2.3\tdb\n"
