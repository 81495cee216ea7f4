"""`krat system prune`: stopped containers, unused networks, dangling images and the build
cache go (with --volumes unused anonymous volumes, with -a every unused image); what is in
use stays. Leftovers of crashed containers are covered in net/test_net_gc.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.root


def build(kr, ctx: Path, tag: str, text: str) -> str:
    (ctx / "f.txt").write_text(text)
    return kr.ok("build", "-q", "-t", tag, str(ctx)).stdout.strip()


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    folder = tmp_path / "ctx"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM busybox\nCOPY f.txt /f.txt\n")
    return folder


def test_prune_removes_what_is_unused_and_keeps_what_is_used(kr, ctx):
    old = build(kr, ctx, "app:1", "one")
    build(kr, ctx, "app:1", "two")                        # the first build is now dangling
    kr.ok("network", "create", "unused")
    kr.ok("network", "create", "used")
    kr.ok("volume", "create", "named")
    kr.ok("run", "--name", "stopped", "-v", "/anon", "busybox", "true")
    stopped = kr.ok("inspect", "-f", "{{.Id}}", "stopped").stdout.strip()
    kr.ok("run", "-d", "--name", "up", "--network", "used", "app:1", "sleep", "60")

    proc = kr("system", "prune", input="n\n")               # declined: nothing happens
    assert proc.returncode == 0 and "WARNING! This will remove:" in proc.stdout
    assert "stopped" in kr.ok("ps", "-a", "--format", "{{.Names}}").stdout

    out = kr.ok("system", "prune", "-f").stdout
    assert f"Deleted Containers:\n{stopped}\n" in out
    assert "Deleted Networks:\nunused\n" in out
    assert "Deleted Images:\n" in out and f"deleted: {old}" in out
    assert "Deleted build cache objects: " in out
    assert "Deleted Volumes" not in out
    assert kr.ok("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["up"]
    assert kr.ok("network", "ls", "--format", "{{.Name}}").stdout.split() == ["bridge", "host", "none", "used"]
    assert kr.ok("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split() == ["app:1", "busybox:latest"]
    volumes = kr.ok("volume", "ls", "-q").stdout.split()
    assert "named" in volumes and len(volumes) == 2        # the anonymous one stays without --volumes


def test_prune_volumes_and_all_images(kr, ctx):
    build(kr, ctx, "app:1", "one")
    kr.ok("volume", "create", "named")
    kr.ok("run", "--name", "gone", "-v", "/anon", "busybox", "true")
    out = kr.ok("system", "prune", "-f", "-a", "--volumes").stdout
    assert "Deleted Volumes:\n" in out and "untagged: app:1" in out and "untagged: busybox:latest" in out
    assert kr.ok("volume", "ls", "-q").stdout.split() == ["named"]   # named volumes are never pruned here
    assert kr.ok("images", "-q").stdout == ""
    assert kr.ok("system", "prune", "-f").stdout == "Total reclaimed space: 0B\n"


def test_bad_flag_is_one_line(kr):
    err = kr.fails("system", "prune", "--bogus")
    assert "unrecognized arguments: --bogus" in err and len(err.splitlines()) == 1
