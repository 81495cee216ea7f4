"""A container's filesystem from outside: diff, cp both ways, export, commit, top, stats, prune."""

from __future__ import annotations

import io
import subprocess
import tarfile

import pytest

pytestmark = pytest.mark.root


def test_diff_cp_export_commit(kr, runtime, tmp_path):
    kr.ok("run", "-d", "--name", "fs", "busybox", "sh", "-c",
          "echo new > /etc/added; rm /etc/group; echo x >> /etc/passwd; sleep 100")
    from engine_helpers import wait_for

    wait_for(lambda: "A /etc/added" in kr.ok("diff", "fs").stdout, what="the container's changes")
    assert kr.ok("diff", "fs").stdout.splitlines() == ["C /etc", "A /etc/added", "D /etc/group", "C /etc/passwd"]

    src = tmp_path / "in.txt"
    src.write_text("hello\n")
    kr.ok("cp", str(src), "fs:/tmp/")
    assert kr.ok("exec", "fs", "cat", "/tmp/in.txt").stdout == "hello\n"
    kr.ok("cp", "fs:/etc/added", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "new\n"
    stream = kr("cp", "fs:/etc", "-", input=b"")
    names = tarfile.open(fileobj=io.BytesIO(stream.stdout)).getnames()
    assert "etc/added" in names and "etc/group" not in names
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        data = b"from a tar\n"
        info = tarfile.TarInfo("fromtar.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    kr.ok("cp", "-", "fs:/tmp", input=archive.getvalue())
    assert kr.ok("exec", "fs", "cat", "/tmp/fromtar.txt").stdout == "from a tar\n"
    evil = kr("cp", str(src), "fs:/../../../../../tmp/escaped-krat-test")
    assert not __import__("os").path.exists("/tmp/escaped-krat-test") or evil.returncode != 0

    exported = kr("export", "fs", input=b"").stdout
    names = tarfile.open(fileobj=io.BytesIO(exported)).getnames()
    assert "etc/added" in names and "bin/busybox" in names

    image_id = kr.ok("commit", "-c", 'CMD ["cat", "/etc/added"]', "fs", "snap:1").stdout.strip()
    assert image_id.startswith("sha256:")
    assert kr.ok("run", "--rm", "snap:1").stdout == "new\n"
    assert kr.ok("inspect", "-f", "{{.State.Status}}", "fs").stdout.strip() == "running"   # unpaused again


def test_diff_and_commit_hold_only_the_containers_own_changes(kr, runtime, tmp_path):
    """busybox has no /etc/hosts: the engine's mount points for it (and /etc/hostname,
    /etc/resolv.conf, the --init binary) are made in the container's layer, but neither
    `diff` nor `commit` shows them or the directories they were made in, as Docker's don't."""
    import json

    from engine_helpers import wait_for

    kr.ok("run", "-d", "--init", "--name", "quiet", "busybox", "sh", "-c", "echo x > /tmp/x; sleep 100")
    wait_for(lambda: "A /tmp/x" in kr.ok("diff", "quiet").stdout, what="the container's change")
    assert kr.ok("diff", "quiet").stdout.splitlines() == ["C /tmp", "A /tmp/x"]

    kr.ok("commit", "quiet", "quiet:1")
    archive = tmp_path / "quiet.tar"
    kr.ok("save", "-o", str(archive), "quiet:1")
    with tarfile.open(archive) as saved:
        manifest = json.load(saved.extractfile("manifest.json"))
        top = saved.extractfile(manifest[0]["Layers"][-1]).read()
    assert sorted(tarfile.open(fileobj=io.BytesIO(top)).getnames()) == ["tmp", "tmp/x"]


def test_top_stats_and_prune(kr, runtime):
    kr.ok("run", "-d", "--name", "topper", "busybox", "sleep", "77")
    top = kr.ok("top", "topper").stdout.splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"] and any("sleep 77" in line for line in top[1:])
    stats = kr.ok("stats", "--no-stream").stdout.splitlines()
    assert stats[0].startswith("CONTAINER ID") and "topper" in stats[1]
    row = kr.ok("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "topper").stdout
    assert row == "topper 1\n"
    kr.ok("run", "--name", "done1", "busybox", "true")
    kr.ok("create", "--name", "fresh", "busybox", "true")
    out = kr.ok("container", "prune", "-f").stdout
    assert out.startswith("Deleted Containers:")
    assert kr.ok("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["topper"]
