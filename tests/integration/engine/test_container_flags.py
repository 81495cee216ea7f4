"""run flags by group: devices, tmpfs and shm, namespaces (--network/--pid/--ipc), stop
signal, labels and ps filters, --rm with a restart policy refused, --env-file."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.root


def test_devices_tmpfs_shm(kr, runtime):
    out = kr.ok("run", "--rm", "--device", "/dev/zero:/dev/myzero", "--tmpfs", "/scratch:size=1m",
                "--shm-size", "8m", "busybox", "sh", "-c",
                "head -c 3 /dev/myzero | wc -c; grep -E ' /scratch | /dev/shm ' /proc/mounts").stdout
    lines = out.splitlines()
    assert lines[0].strip() == "3"
    scratch = next(line for line in lines if " /scratch " in line)
    shm = next(line for line in lines if " /dev/shm " in line)
    assert "size=1024k" in scratch and "noexec" in scratch
    assert "size=8192k" in shm
    err = kr.fails("run", "--rm", "--device", "/dev/nonexistent-krat", "busybox", "true")
    assert "/dev/nonexistent-krat" in err


def test_namespace_modes(kr, runtime):
    assert "eth0" not in kr.ok("run", "--rm", "--network", "none", "busybox", "ip", "link").stdout
    host_pids = kr.ok("run", "--rm", "--pid", "host", "busybox", "sh", "-c", "ls /proc | grep -c '^[0-9]'").stdout
    assert int(host_pids) > 20
    kr.ok("run", "-d", "--name", "netowner", "--network", "none", "--cap-add", "NET_ADMIN", "busybox", "sleep", "100")
    kr.ok("exec", "netowner", "sh", "-c", "ip link set lo down")
    joined = kr.ok("run", "--rm", "--network", "container:netowner", "busybox", "ip", "link", "show", "lo").stdout
    assert ",UP" not in joined.split("\n")[0]          # the same namespace: lo is down there too


def test_host_namespaces_are_the_hosts(kr, runtime):
    """--network host / --ipc host: the container is in this host's namespaces, the others are its own
    (the runtime may make namespaces ahead of the request and give back the ones not asked for)."""
    import os

    show = "for n in net ipc uts; do readlink /proc/self/ns/$n; done"
    host = [os.readlink(f"/proc/self/ns/{n}") for n in ("net", "ipc", "uts")]
    shared = kr.ok("run", "--rm", "--network", "host", "--ipc", "host", "busybox", "sh", "-c", show).stdout.split()
    assert shared[:2] == host[:2] and shared[2] != host[2]
    own = kr.ok("run", "--rm", "--network", "none", "busybox", "sh", "-c", show).stdout.split()
    assert all(mine != theirs for mine, theirs in zip(own, host))


def test_dev_shm_follows_the_ipc_mode(kr, runtime, tmp_path):
    """As in Docker: --ipc host shares the host's /dev/shm, --ipc none has none, the default
    is a tmpfs of the container's own, sized by --shm-size."""
    import os

    probe = f"/dev/shm/krat-test-{os.getpid()}"
    with open(probe, "w") as f:
        f.write("from the host")
    try:
        assert kr.ok("run", "--rm", "--ipc", "host", "busybox", "cat", probe).stdout == "from the host"
        assert kr("run", "--rm", "busybox", "cat", probe).returncode != 0
    finally:
        os.unlink(probe)
    assert kr("run", "--rm", "--ipc", "none", "busybox", "ls", "/dev/shm").returncode != 0
    own = kr.ok("run", "--rm", "--shm-size", "8m", "busybox", "df", "-k", "/dev/shm").stdout.splitlines()[-1].split()
    assert own[0] == "shm" and own[1] == "8192"


def test_stop_signal_and_labels_and_filters(kr, runtime):
    kr.ok("run", "-d", "--name", "graceful", "--stop-signal", "USR1", "-l", "tier=web", "busybox", "sh", "-c",
          "trap 'exit 11' USR1; while true; do sleep 0.1; done")
    kr.ok("run", "-d", "--name", "other", "-l", "tier=db", "busybox", "sleep", "100")
    assert kr.ok("ps", "--filter", "label=tier=web", "--format", "{{.Names}}").stdout == "graceful\n"
    assert kr.ok("ps", "--filter", "name=oth", "--format", "{{.Names}}").stdout == "other\n"
    kr.ok("stop", "graceful")
    assert kr.ok("inspect", "-f", "{{.State.ExitCode}} {{.Config.StopSignal}}", "graceful").stdout == "11 USR1\n"
    assert kr.ok("ps", "-a", "--filter", "exited=11", "--format", "{{.Names}}").stdout == "graceful\n"
    assert kr.ok("ps", "-a", "--filter", "status=running", "-q").stdout.count("\n") == 1
    rows = [json.loads(line) for line in kr.ok("ps", "-a", "--format", "json").stdout.splitlines()]
    assert {r["Names"] for r in rows} == {"graceful", "other"} and all(len(r["ID"]) == 12 for r in rows)
    assert "invalid filter" in kr.fails("ps", "--filter", "colour=red")


def test_env_file_and_entrypoint(kr, runtime, tmp_path):
    env = tmp_path / "app.env"
    env.write_text("# comment\nA=from-file\nB=2\n")
    out = kr.ok("run", "--rm", "--env-file", str(env), "-e", "B=flag", "--entrypoint", "/bin/sh", "busybox",
                "-c", "echo $A $B").stdout
    assert out == "from-file flag\n"
    assert kr.ok("run", "--rm", "--entrypoint", "", "busybox", "echo", "plain").stdout == "plain\n"


def test_runtime_flag_selects_an_oci_binary(kr):
    import shutil
    import sys
    from pathlib import Path

    krat_runtime = str(Path(sys.executable).parent / "krat-runtime")
    for binary in (shutil.which("runc"), krat_runtime):
        assert binary and Path(binary).exists(), binary
        cid = kr.ok("run", "-d", "--runtime", binary, "busybox", "sleep", "30").stdout.strip()
        assert kr.ok("inspect", "-f", "{{.HostConfig.Runtime}}", cid).stdout.strip() == binary
        assert kr.ok("exec", cid, "echo", "in").stdout == "in\n"
        assert kr("run", "--rm", "--runtime", binary, "busybox", "nosuchcmd").returncode == 127
        kr.ok("rm", "-f", cid)


def test_ps_size_and_no_trunc(kr):
    cid = kr.ok("run", "-d", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /big; sleep 30").stdout.strip()
    from engine_helpers import wait_for

    wait_for(lambda: "A /big" in kr.ok("diff", cid).stdout, what="the file")
    out = kr.ok("ps", "-s", "--no-trunc").stdout.splitlines()
    assert out[0].split()[-1] == "SIZE" and cid in out[1] and "virtual" in out[1]


def test_init_forwards_signals_and_reaps(kr, runtime):
    kr.ok("run", "-d", "--init", "--name", "inited", "busybox", "sh", "-c",
          "(sleep 0.1 &) ; sleep 100")                     # an orphan for tini to reap
    kr.ok("stop", "-t", "8", "inited")                     # tini passes SIGTERM on: sleep dies of it
    assert kr.ok("inspect", "-f", "{{.State.ExitCode}}", "inited").stdout.strip() == "143"
