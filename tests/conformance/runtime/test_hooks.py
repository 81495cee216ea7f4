"""OCI lifecycle hooks under both runtimes: when each runs, where, and with which state."""

from __future__ import annotations

import json
import subprocess

import pytest

from runtime_bundles import configure, create, wait_status
from runtime_bundles import bundle, krat_runtime, rootfs_template, runtime  # noqa: F401 - fixtures

pytestmark = pytest.mark.root


def _host_hook(path, log):
    """A host script that appends its name and the state it got on stdin to `log`."""
    path.write_text(f"#!/bin/sh\nprintf '%s ' \"$1\" >> {log}\ncat >> {log}\necho >> {log}\n")
    path.chmod(0o755)
    return str(path)


def test_hooks_run_in_order_with_the_state(runtime, bundle, tmp_path):
    log = tmp_path / "hooks.log"
    hook = _host_hook(tmp_path / "hook.sh", log)
    inside = bundle.rootfs / "bin" / "inside-hook"
    inside.write_text("#!/bin/sh\necho start-container-ran > /tmp/started\n")
    inside.chmod(0o755)
    bundle.config["hooks"] = {
        kind: [{"path": hook, "args": ["hook.sh", kind]}] for kind in ("prestart", "createRuntime", "createContainer",
                                                                     "poststart", "poststop")}
    bundle.config["hooks"]["startContainer"] = [{"path": "/bin/inside-hook"}]
    container_id = create(runtime, bundle, ["sh", "-c", "cat /tmp/started; sleep 1000"], tmp_path / "out.log")
    kinds = [line.split(" ", 1)[0] for line in log.read_text().splitlines()]
    # runc before 1.2 ran poststart during create, against the spec; krat runs it in start.
    early_poststart = runtime.name == "runc" and kinds[-1:] == ["poststart"]
    assert kinds == ["prestart", "createRuntime", "createContainer"] + (["poststart"] if early_poststart else [])
    state = json.loads(log.read_text().splitlines()[0].split(" ", 1)[1])
    assert state["id"] == container_id and state["pid"] > 0 and state["bundle"] == str(bundle.path)
    assert runtime("start", container_id).returncode == 0
    wait_status(runtime, container_id, "running")
    assert log.read_text().splitlines()[3].startswith("poststart ")
    assert runtime("kill", container_id, "KILL").returncode == 0
    wait_status(runtime, container_id, "stopped")
    assert runtime("delete", container_id).returncode == 0
    assert [line.split(" ", 1)[0] for line in log.read_text().splitlines()][4:] == ["poststop"]
    assert "start-container-ran" in (tmp_path / "out.log").read_text()


def test_a_failing_create_hook_fails_create_and_leaves_nothing(runtime, bundle, tmp_path):
    bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/false"}]}
    container_id, path = configure(runtime, bundle, ["true"])
    proc = runtime("create", "--bundle", path, container_id, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert runtime("state", container_id).returncode != 0


def test_a_hook_that_hangs_is_killed_at_its_timeout(krat_runtime, bundle, tmp_path):
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", "100"], "timeout": 1}]}
    container_id, path = configure(krat_runtime, bundle, ["true"])
    proc = krat_runtime("create", "--bundle", path, container_id, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and "prestart hook /bin/sleep timed out after 1s" in proc.stderr
