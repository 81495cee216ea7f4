"""`krat network ...`, `krat volume ...` and `krat port` through the real CLI."""

from __future__ import annotations

import json
import sqlite3


def rows(krat, sql: str) -> list:
    with sqlite3.connect(krat.root / "krat.db") as conn:
        return conn.execute(sql).fetchall()


def test_network_lifecycle(krat):
    net_id = krat.ok("network", "create", "--subnet", "10.77.50.0/24", "--gateway", "10.77.50.254",
                     "--label", "team=a", "--internal", "appnet").stdout.strip()
    assert len(net_id) == 64
    (info,) = json.loads(krat.ok("network", "inspect", "appnet").stdout)
    assert info["Id"] == net_id and info["Internal"] is True and info["Labels"] == {"team": "a"}
    assert info["IPAM"]["Config"] == [{"Subnet": "10.77.50.0/24", "Gateway": "10.77.50.254"}]
    names = [line.split()[1] for line in krat.ok("network", "ls").stdout.splitlines()[1:]]
    assert names == ["bridge", "host", "none", "appnet"]
    assert krat.ok("network", "ls", "-q").stdout.split()[-1] == net_id[:12]
    assert krat.ok("network", "inspect", "-f", "{{.Name}} {{.Internal}}", "appnet").stdout == "appnet true\n"
    assert krat.ok("network", "ls", "--format", "{{.Name}}:{{.Driver}}").stdout.split()[-1] == "appnet:bridge"
    krat.ok("network", "create", "other")
    assert krat.ok("network", "prune", "-f").stdout.split()[2:] == ["appnet", "other"]
    assert [r[0] for r in rows(krat, "SELECT name FROM networks")] == ["bridge", "host", "none"]


def test_network_bad_input_is_one_line_and_creates_nothing(krat):
    krat.ok("network", "create", "--subnet", "10.77.60.0/24", "first")
    before = rows(krat, "SELECT * FROM networks")
    assert "overlaps with network first" in krat.fails("network", "create", "--subnet", "10.77.0.0/16", "second")
    assert "host bits" in krat.fails("network", "create", "--subnet", "10.77.61.1/24", "third")
    assert "not a usable address" in krat.fails("network", "create", "--subnet", "10.77.62.0/24",
                                               "--gateway", "10.77.63.1", "fourth")
    assert "already exists" in krat.fails("network", "create", "first")
    assert "invalid network name" in krat.fails("network", "create", "no/slash")
    assert "pre-defined" in krat.fails("network", "rm", "bridge")
    assert "network nope not found" in krat.fails("network", "rm", "nope")
    assert "not supported" in krat.fails("network", "create", "-d", "overlay", "fifth")
    assert rows(krat, "SELECT * FROM networks") == before


def test_volume_lifecycle_and_bad_names(krat):
    assert krat.ok("volume", "create", "--label", "k=v", "data").stdout.strip() == "data"
    anon = krat.ok("volume", "create").stdout.strip()
    assert len(anon) == 64
    (info,) = json.loads(krat.ok("volume", "inspect", "data").stdout)
    assert info["Labels"] == {"k": "v"} and info["Mountpoint"].endswith("/volumes/data/_data")
    assert krat.ok("volume", "ls", "-q").stdout.split() == sorted([anon, "data"])
    assert krat.ok("volume", "inspect", "-f", "{{.Mountpoint}}", "data").stdout.strip() == info["Mountpoint"]
    assert krat.ok("volume", "ls", "-q", "--filter", "label=k=v").stdout.split() == ["data"]
    assert krat.ok("volume", "ls", "-q", "-f", "dangling=true", "-f", "name=dat").stdout.split() == ["data"]
    assert "invalid filter" in krat.fails("volume", "ls", "-f", "bogus=1")
    assert "invalid volume name 'a/b'" in krat.fails("volume", "create", "a/b")
    assert "invalid volume option" in krat.fails("volume", "create", "--opt", "bogus=1", "x1")
    assert "no such volume: nope" in krat.fails("volume", "rm", "nope")
    assert krat.ok("volume", "prune", "-f").stdout.splitlines()[1] == anon  # anonymous only by default
    assert krat.ok("volume", "ls", "-q").stdout.split() == ["data"]
    krat.ok("volume", "rm", "data")
    assert not (krat.root / "volumes" / "data").exists()
    assert rows(krat, "SELECT * FROM volumes") == []


def test_port_of_unknown_container(krat):
    assert "no such container: ghost" in krat.fails("port", "ghost")
