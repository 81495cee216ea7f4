"""krat's `inspect`, `ps` and `top` against a private dockerd's for the same containers:
every key Docker's inspect shows is there, and what the flags set reads the same; ps's
columns and top's table read as Docker's."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

FLAGS = ("-p", "127.0.0.1:18080:80", "-p", "90", "-p", "17000-17001:70-71/udp", "-v", "hcvol:/data:ro",
         "-v", "/tmp:/h", "--mount", "type=bind,src=/etc,dst=/e,readonly", "--dns", "192.0.2.53",
         "--dns-search", "example.test")
SAME = ("PortBindings", "PublishAllPorts", "Binds", "Mounts", "Dns", "DnsOptions", "DnsSearch", "Devices",
        "CapAdd", "CapDrop", "ReadonlyPaths", "RestartPolicy", "AutoRemove", "ShmSize", "CgroupnsMode")
# Docker records the size of the terminal `create -t` ran on; krat does not keep it.
NOT_KEPT = {"ConsoleSize"}


def same_keys(host_config: dict) -> dict:
    """The keys both must agree on; Binds in order (Docker's come from a map, in any order)."""
    out = {k: host_config.get(k) for k in SAME}
    out["Binds"] = sorted(out["Binds"] or [])
    return out


@pytest.fixture
def both(kr, dockerd_peer, tmp_path):
    archive = tmp_path / "busybox.tar"
    kr.ok("save", "-o", str(archive), "busybox:latest")
    dockerd_peer.ok("load", "-i", str(archive))
    yield kr, dockerd_peer
    dockerd_peer("rm", "-f", "hc", "hc2")
    dockerd_peer("volume", "rm", "hcvol")
    kr("rm", "-f", "hc", "hc2")
    kr("volume", "rm", "hcvol")


def test_host_config_has_dockers_keys_and_values(both):
    kr, docker = both
    kr.ok("create", "--name", "hc", *FLAGS, "busybox", "true")
    docker.ok("create", "--name", "hc", *FLAGS, "busybox", "true")
    ours = json.loads(kr.ok("inspect", "hc").stdout)[0]["HostConfig"]
    theirs = json.loads(docker.ok("inspect", "hc").stdout)[0]["HostConfig"]
    assert set(theirs) - set(ours) - NOT_KEPT == set()
    assert same_keys(ours) == same_keys(theirs)
    for part in ("Config", "NetworkSettings", "State"):   # and the other parts' keys
        ours_part = json.loads(kr.ok("inspect", "-f", "{{json .%s}}" % part, "hc").stdout)
        theirs_part = json.loads(docker.ok("inspect", "-f", "{{json .%s}}" % part, "hc").stdout)
        assert set(theirs_part) - set(ours_part) - {"Health"} == set(), part

    kr.ok("create", "--name", "hc2", "--volumes-from", "hc", "-P", "busybox", "true")
    docker.ok("create", "--name", "hc2", "--volumes-from", "hc", "-P", "busybox", "true")
    ours = json.loads(kr.ok("inspect", "hc2").stdout)[0]["HostConfig"]
    theirs = json.loads(docker.ok("inspect", "hc2").stdout)[0]["HostConfig"]
    assert same_keys(ours) == same_keys(theirs)
    assert theirs["VolumesFrom"] == ["hc"]
    assert ours["VolumesFrom"] == [kr.ok("inspect", "-f", "{{.Id}}", "hc").stdout.strip()]   # see the README


def test_ps_shows_networks_mounts_and_creation_as_docker(both):
    """ps's Networks, Mounts (volume names, else bind sources; cut at 15 characters) and
    LocalVolumes columns, and CreatedAt's format, for the same container on both."""
    import re

    kr, docker = both
    flags = ("--network", "none", "-v", "hcvol-with-a-long-name:/data", "-v", "/tmp:/h")
    fmt = "{{.Names}}|{{.Networks}}|{{.Mounts}}|{{.LocalVolumes}}|{{.CreatedAt}}"
    rows, commands = [], []
    for engine in (kr, docker):
        engine.ok("create", "--name", "hc", *flags, "busybox", "sh", "-c", "echo 1234567890 1234567890")
        out = engine.ok("ps", "-a", "--format", fmt).stdout
        rows.append((out if isinstance(out, str) else out.decode()).strip().split("|"))
        for trunc in ((), ("--no-trunc",)):
            out = engine.ok("ps", "-a", *trunc, "--format", "{{.Command}}").stdout
            commands.append(out if isinstance(out, str) else out.decode())
        engine.ok("rm", "-v", "hc")
        engine.ok("volume", "rm", "hcvol-with-a-long-name")
    (name, networks, mounts, local, created), theirs = rows
    assert [name, networks, local] == theirs[:2] + theirs[3:4] == ["hc", "none", "1"]
    assert sorted(mounts.split(",")) == sorted(theirs[2].split(",")) == ["/tmp", "hcvol-with-a-l…"]
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+"
    assert re.fullmatch(pattern, created) and re.fullmatch(pattern, theirs[4]), (created, theirs[4])
    assert commands[:2] == commands[2:] == ['"sh -c \'echo 1234567…"\n', '"sh -c \'echo 1234567890 1234567890\'"\n']


def test_top_is_laid_out_as_dockers(both):
    """top: Docker's table (columns at least 20 wide), the command with its spaces."""
    kr, docker = both
    outs = []
    for engine in (kr, docker):
        engine.ok("run", "-d", "--name", "hc", "--network", "none", "busybox", "sh", "-c", "sleep 100; true")
        out = engine.ok("top", "hc").stdout
        outs.append((out if isinstance(out, str) else out.decode()).splitlines())
        engine.ok("rm", "-f", "hc")
    ours, theirs = outs
    assert ours[0] == theirs[0] == "UID" + " " * 17 + "PID" + " " * 17 + "PPID" + " " * 16 + "C" + " " * 19 + \
        "STIME" + " " * 15 + "TTY" + " " * 17 + "TIME" + " " * 16 + "CMD"
    assert [line[140:] for line in ours[1:]] == [line[140:] for line in theirs[1:]] == ["sh -c sleep 100; true",
                                                                                    "sleep 100"]


def test_tables_are_padded_as_dockers(both):
    """Docker's tables: every column but the last at least 10 wide, 3 spaces after the
    widest cell."""
    kr, docker = both
    outs = []
    for engine in (kr, docker):
        engine.ok("volume", "create", "hcvol")
        out = engine.ok("volume", "ls").stdout
        outs.append(out if isinstance(out, str) else out.decode())
    assert outs[0] == outs[1] == "DRIVER    VOLUME NAME\nlocal     hcvol\n"
