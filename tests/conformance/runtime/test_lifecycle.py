"""create / start / state / kill / pause / resume / delete / list / ps, under both runtimes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from runtime_bundles import cgroup_dirs, create, run, wait_status
from runtime_bundles import bundle, krat_runtime, rootfs_template, runtime  # noqa: F401 - fixtures

pytestmark = pytest.mark.root


def _mounts_mentioning(text: str) -> list[str]:
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if text in line]


def test_create_waits_until_start(runtime, bundle, tmp_path):
    log = tmp_path / "out.log"
    container_id = create(runtime, bundle, ["sh", "-c", "echo started > /tmp/marker; echo ran"], log)
    doc = runtime.state(container_id)
    assert doc["status"] == "created" and doc["pid"] > 0 and doc["id"] == container_id
    assert doc["bundle"] == str(bundle.path)
    time.sleep(0.2)
    assert log.read_text() == ""  # nothing of process.args has run yet
    assert runtime("start", container_id).returncode == 0
    wait_status(runtime, container_id, "stopped")
    assert log.read_text() == "ran\n"
    assert runtime("start", container_id).returncode != 0  # stopped cannot start again


def test_kill_then_delete_leaves_nothing(runtime, bundle, tmp_path):
    container_id = create(runtime, bundle, ["sleep", "1000"], tmp_path / "out.log")
    assert runtime("start", container_id).returncode == 0
    doc = wait_status(runtime, container_id, "running")
    pid = doc["pid"]
    assert cgroup_dirs(container_id), "the container has a cgroup while it runs"
    assert runtime("delete", container_id).returncode != 0  # running: needs --force or kill first
    assert runtime("kill", container_id, "KILL").returncode == 0
    wait_status(runtime, container_id, "stopped")
    assert runtime("delete", container_id).returncode == 0
    assert runtime("state", container_id).returncode != 0
    assert not cgroup_dirs(container_id)
    assert not _mounts_mentioning(str(bundle.rootfs))
    assert not os.path.exists(f"/proc/{pid}") or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_sigkill_exit_status_in_run(runtime, bundle, tmp_path):
    pidfile = tmp_path / "pid"
    container_id = runtime.new_id()
    bundle.config["process"]["args"] = ["sleep", "1000"]
    bundle.config["linux"]["cgroupsPath"] = f"/krat-conformance/{container_id}"
    path = bundle.write()
    import subprocess

    proc = subprocess.Popen(runtime.argv("run", "--bundle", path, "--pid-file", str(pidfile), container_id),
                            env=runtime.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        wait_status(runtime, container_id, "running")
        assert runtime("kill", container_id, "9").returncode == 0
        assert proc.wait(timeout=20) == 137, proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


def test_kill_all_and_signal_names(runtime, bundle, tmp_path):
    container_id = create(runtime, bundle, ["sh", "-c", "sleep 1000 & sleep 1000"], tmp_path / "out.log")
    runtime("start", container_id)
    wait_status(runtime, container_id, "running")
    assert runtime("kill", container_id, "SIGNOTREAL").returncode != 0
    assert runtime("kill", "--all", container_id, "SIGKILL").returncode == 0
    wait_status(runtime, container_id, "stopped")


def test_pause_and_resume(runtime, bundle, tmp_path):
    container_id = create(runtime, bundle, ["sleep", "1000"], tmp_path / "out.log")
    runtime("start", container_id)
    pid = wait_status(runtime, container_id, "running")["pid"]
    assert runtime("pause", container_id).returncode == 0
    assert runtime.state(container_id)["status"] == "paused"
    assert runtime("pause", container_id).returncode != 0  # already paused
    assert runtime("resume", container_id).returncode == 0
    assert runtime.state(container_id)["status"] == "running"
    assert pid in json.loads(runtime("ps", "--format", "json", container_id).stdout)
    assert runtime("delete", "--force", container_id).returncode == 0
    assert not cgroup_dirs(container_id)


def test_list_shows_containers(runtime, bundle, tmp_path):
    container_id = create(runtime, bundle, ["true"], tmp_path / "out.log")
    listed = json.loads(runtime("list", "--format", "json").stdout)
    assert [c["id"] for c in listed] == [container_id]
    assert listed[0]["status"] == "created"


def test_unknown_container_and_duplicate_id(runtime, bundle, tmp_path):
    proc = runtime("state", "kc-does-not-exist")
    assert proc.returncode != 0 and "does not exist" in proc.stderr
    container_id = create(runtime, bundle, ["true"], tmp_path / "out.log")
    again = runtime("create", "--bundle", str(bundle.path), container_id)
    assert again.returncode != 0 and "exists" in again.stderr


def test_bad_config_names_the_field_and_leaves_nothing(krat_runtime, bundle):
    bundle.config["process"]["args"] = "sh"
    bundle.config["linux"]["cgroupsPath"] = "/krat-conformance/kc-bad"
    bundle.write()
    container_id = krat_runtime.new_id()
    proc = krat_runtime("create", "--bundle", str(bundle.path), container_id)
    assert proc.returncode == 1
    assert "process.args: expected a list" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert krat_runtime("state", container_id).returncode != 0
    assert not list(Path("/sys/fs/cgroup").glob("*/krat-conformance/kc-bad"))


def test_failed_exec_leaves_nothing(runtime, bundle):
    proc = run(runtime, bundle, ["/no/such/binary"])
    assert proc.returncode != 0
    container_id = runtime.created[-1]
    assert not cgroup_dirs(container_id)
    assert runtime("state", container_id).returncode != 0


def test_delete_a_created_container_without_force(runtime, bundle, tmp_path):
    container_id = create(runtime, bundle, ["sleep", "1000"], tmp_path / "out.log")
    pid = runtime.state(container_id)["pid"]
    assert runtime("delete", container_id).returncode == 0
    assert runtime("state", container_id).returncode != 0
    assert not cgroup_dirs(container_id)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]:
        assert time.monotonic() < deadline, "the init of a deleted container is still alive"
        time.sleep(0.02)


def test_force_delete_of_a_missing_container(runtime):
    assert runtime("delete", "--force", "kc-never-existed").returncode == 0
    assert runtime("delete", "kc-never-existed").returncode != 0
