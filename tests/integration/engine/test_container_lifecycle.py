"""The container lifecycle through the CLI, under each runtime: run, create/start, ps, logs,
stop, kill, rm, inspect, wait, exec, restart, pause."""

from __future__ import annotations

import json
import time

import pytest

from engine_helpers import assert_nothing_left, wait_for

pytestmark = pytest.mark.root


def test_foreground_run_streams_output_and_returns_the_exit_code(kr, runtime):
    proc = kr("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "out\n", "err\n")
    assert_nothing_left(kr)


def test_detached_run_ps_logs_stop_rm(kr, runtime):
    cid = kr.ok("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                "trap 'echo bye; exit 0' TERM; echo hello; while true; do sleep 0.1; done").stdout.strip()
    assert len(cid) == 64
    wait_for(lambda: "hello" in kr.ok("logs", "ticker").stdout, what="first log line")
    ps = kr.ok("ps").stdout.splitlines()
    assert ps[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert cid[:12] in ps[1] and "Up " in ps[1] and ps[1].rstrip().endswith("ticker")
    kr.ok("stop", "ticker")
    assert "bye" in kr.ok("logs", "ticker").stdout
    row = json.loads(kr.ok("ps", "-a", "--format", "json").stdout.splitlines()[0])
    assert row["State"] == "exited" and row["Status"].startswith("Exited (0) ")
    assert kr.ok("ps", "-q").stdout == ""
    log = kr.root / "containers" / cid / f"{cid}-json.log"
    entry = json.loads(log.read_text().splitlines()[0])
    assert entry["log"] == "hello\n" and entry["stream"] == "stdout" and entry["time"].endswith("Z")
    kr.ok("rm", "ticker")
    assert_nothing_left(kr, [cid])


def test_create_start_wait_inspect(kr, runtime):
    cid = kr.ok("create", "--name", "job", "-e", "GREETING=hi", "-l", "team=a", "busybox",
                "sh", "-c", "echo $GREETING; exit 7").stdout.strip()
    doc = json.loads(kr.ok("inspect", "job").stdout)[0]
    assert doc["Id"] == cid and doc["Name"] == "/job" and doc["State"]["Status"] == "created"
    assert doc["State"]["StartedAt"] == "0001-01-01T00:00:00Z"
    assert "GREETING=hi" in doc["Config"]["Env"] and doc["Config"]["Labels"]["team"] == "a"
    assert doc["Path"] == "sh" and doc["Args"] == ["-c", "echo $GREETING; exit 7"]
    assert set(doc) >= {"Id", "Created", "Path", "Args", "State", "Image", "Name", "RestartCount", "HostConfig",
                        "Mounts", "Config", "NetworkSettings", "LogPath", "HostsPath"}
    assert "Created" == kr.ok("ps", "-a", "--format", "{{.Status}}").stdout.strip()
    kr.ok("start", "job")
    assert kr.ok("wait", "job").stdout.strip() == "7"
    state = json.loads(kr.ok("container", "inspect", "job").stdout)[0]["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 7 and not state["Running"]
    assert state["FinishedAt"] > state["StartedAt"] > "2000"
    assert kr.ok("logs", "job").stdout == "hi\n"
    assert kr.ok("inspect", "-f", "{{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}}", "job").stdout == "7 no\n"
    kr.ok("start", "job")                              # an exited container starts again
    assert kr.ok("wait", cid[:12]).stdout.strip() == "7"
    assert kr.ok("logs", "job").stdout == "hi\nhi\n"
    kr.ok("rm", "job")
    assert_nothing_left(kr, [cid])


def test_kill_with_signal_and_exit_codes(kr, runtime):
    kr.ok("run", "-d", "--name", "kk", "busybox", "sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done")
    kr.ok("kill", "-s", "USR1", "kk")
    assert kr.ok("wait", "kk").stdout.strip() == "42"
    kr.ok("start", "kk")
    kr.ok("kill", "kk")                                  # SIGKILL by default: 128 + 9
    assert kr.ok("wait", "kk").stdout.strip() == "137"
    err = kr.fails("kill", "kk", code=1)
    assert "not running" in err


def test_stop_times_out_to_sigkill(kr, runtime):
    kr.ok("run", "-d", "--name", "stubborn", "--stop-timeout", "1", "busybox", "sleep", "100")
    start = time.monotonic()
    kr.ok("stop", "stubborn")                            # sleep as PID 1 ignores SIGTERM
    assert time.monotonic() - start < 8
    assert kr.ok("inspect", "-f", "{{.State.ExitCode}}", "stubborn").stdout.strip() == "137"


def test_rm_force_running_and_refusal(kr, runtime):
    cid = kr.ok("run", "-d", "--name", "busy", "busybox", "sleep", "100").stdout.strip()
    err = kr.fails("rm", "busy", code=1)
    assert "stop it first" in err
    kr.ok("rm", "-f", "busy")
    assert_nothing_left(kr, [cid])


@pytest.mark.parametrize("state", ["paused", "restarting", "bridged"])
def test_rm_force_in_any_state_leaves_nothing(kr, runtime, state):
    """rm -f removes the container together with its monitor (the monitor releases the
    kernel's side, rm the storage and rows): paused, between restarts, on a bridge."""
    if state == "restarting":   # its record has no pid then: rm must not signal "pid 0" (its own group)
        cid = kr.ok("run", "-d", "--restart", "always", "--network", "none", "busybox", "sh", "-c",
                    "sleep 0.2; exit 1").stdout.strip()
        wait_for(lambda: kr.ok("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "restarting",
                 what="the back-off between restarts", timeout=30)
    else:
        net = [] if state == "bridged" else ["--network", "none"]
        cid = kr.ok("run", "-d", *net, "busybox", "sleep", "100").stdout.strip()
        if state == "paused":
            kr.ok("pause", cid)
    import subprocess

    rm = subprocess.run(kr.argv("rm", "-f", cid), env=kr.env, capture_output=True, text=True, timeout=60,
                        start_new_session=True)   # a stray kill(0) must not reach the test runner
    assert (rm.returncode, rm.stdout.strip()) == (0, cid), rm.stderr
    assert kr.ok("ps", "-aq").stdout.strip() == ""
    assert_nothing_left(kr, [cid])


def test_rm_force_of_a_foreground_rm_run(kr, runtime):
    """rm -f of a container whose `run --rm` is attached: run returns 137, rm removed it."""
    import subprocess

    proc = subprocess.Popen(kr.argv("run", "--rm", "--name", "fg", "--network", "none", "busybox", "sleep", "100"),
                            env=kr.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: kr.ok("ps", "-q", "--filter", "name=fg").stdout.strip(), what="fg running")
        kr.ok("rm", "-f", "fg")
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 137, (out, err)
    assert kr.ok("ps", "-aq").stdout.strip() == ""
    assert_nothing_left(kr)


def test_exec_env_user_workdir_and_errors(kr, runtime, tmp_path):
    kr.ok("run", "-d", "--name", "box", "-e", "FROM_RUN=1", "busybox", "sleep", "100")
    out = kr.ok("exec", "-e", "X=2", "-w", "/tmp", "box", "sh", "-c", "echo $FROM_RUN $X $(pwd)").stdout
    assert out == "1 2 /tmp\n"
    (tmp_path / "vars.env").write_text("# comment\nFROM_FILE=3\n")
    assert kr.ok("exec", "--env-file", str(tmp_path / "vars.env"), "box", "sh", "-c", "echo $FROM_FILE").stdout == "3\n"
    missing = str(tmp_path / "missing.env")
    assert kr.fails("exec", "--env-file", missing, "box", "true") == f"Error: cannot read env file {missing}: No such file or directory"
    assert kr.ok("exec", "-u", "nobody", "box", "id", "-u").stdout == "65534\n"
    assert kr.ok("exec", "-i", "box", "cat", input="piped\n").stdout == "piped\n"
    assert kr("exec", "box", "sh", "-c", "exit 5").returncode == 5
    assert kr("exec", "box", "nosuchcmd").returncode == 127
    # What is wrong with a command that is there (found out once execve refuses it): as Docker, 126/127.
    kr.ok("exec", "box", "sh", "-c", "printf '#!/bin/nope\\ntrue\\n' > /tmp/s && chmod +x /tmp/s")
    assert kr("exec", "box", "/etc").returncode == 126
    assert kr("exec", "box", "/etc/passwd").returncode == 126
    if runtime == "krat":   # (runc reports a missing #! interpreter with its own exit code 1)
        assert kr.fails("exec", "box", "/etc", code=126) == "Error: /etc: is a directory, not a program"
        assert kr.fails("exec", "box", "/tmp/s", code=127) == \
            "Error: /tmp/s: interpreter /bin/nope (from its #! line): no such file or directory in the container"
        assert kr.fails("exec", "-d", "box", "/etc/passwd", code=126) == \
            "Error: /etc/passwd: permission denied (not executable for this user)"
    kr.ok("exec", "-d", "box", "sh", "-c", "echo detached > /tmp/d")
    wait_for(lambda: kr("exec", "box", "cat", "/tmp/d").stdout == "detached\n", what="exec -d")
    kr.ok("stop", "-t", "0", "box")
    assert "not running" in kr.fails("exec", "box", "true")


def test_restart_and_rename(kr, runtime):
    kr.ok("run", "-d", "--name", "one", "busybox", "sleep", "100")
    pid1 = kr.ok("inspect", "-f", "{{.State.Pid}}", "one").stdout.strip()
    kr.ok("restart", "-t", "0", "one")
    pid2 = kr.ok("inspect", "-f", "{{.State.Pid}}", "one").stdout.strip()
    assert pid1 != pid2 and kr.ok("inspect", "-f", "{{.State.Running}}", "one").stdout.strip() == "true"
    kr.ok("rename", "one", "two")
    assert kr.ok("ps", "--format", "{{.Names}}").stdout.strip() == "two"
    kr.ok("run", "-d", "--name", "three", "busybox", "true")
    assert "already in use" in kr.fails("rename", "two", "three", code=125)


def test_rm_container_survives_restart_and_goes_with_stop(kr, runtime):
    """As Docker: `restart` keeps an --rm container (it suspends the auto-removal), a later
    `stop` removes it and still prints the name with exit 0."""
    cid = kr.ok("run", "-d", "--rm", "--name", "rr", "busybox", "sleep", "300").stdout.strip()
    first = kr.ok("inspect", "-f", "{{.State.Pid}}", "rr").stdout.strip()
    assert kr.ok("restart", "-t", "1", "rr").stdout.strip() == "rr"
    assert kr.ok("inspect", "-f", "{{.State.Status}}", "rr").stdout.strip() == "running"
    assert kr.ok("inspect", "-f", "{{.State.Pid}}", "rr").stdout.strip() != first
    assert kr.ok("exec", "rr", "true").returncode == 0
    assert kr.ok("stop", "-t", "1", "rr").stdout.strip() == "rr"
    wait_for(lambda: kr.ok("ps", "-aq").stdout.strip() == "", timeout=20)
    assert_nothing_left(kr, [cid])


def test_pause_and_unpause(kr, runtime):
    kr.ok("run", "-d", "--name", "pz", "busybox", "sh", "-c", "while true; do date +%s%N > /tmp/t; sleep 0.05; done")
    kr.ok("pause", "pz")
    assert kr.ok("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "pz").stdout == "paused true\n"
    assert "is paused" in kr.fails("exec", "pz", "true")
    assert "(Paused)" in kr.ok("ps").stdout
    kr.ok("unpause", "pz")
    assert kr.ok("inspect", "-f", "{{.State.Status}}", "pz").stdout == "running\n"
