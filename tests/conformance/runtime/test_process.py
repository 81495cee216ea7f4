"""Process basics under both runtimes: args, env, cwd, user, exit codes, hostname."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from runtime_bundles import configure, run
from runtime_bundles import bundle, krat_runtime, rootfs_template, runtime  # noqa: F401 - fixtures

pytestmark = pytest.mark.root


def test_args_env_cwd_and_user(runtime, bundle):
    bundle.rootfs.joinpath("work").mkdir()
    proc = run(runtime, bundle, ["sh", "-c", 'echo "$GREETING|$(pwd)|$(id -u):$(id -g):$(id -G)"'],
               env=["PATH=/bin:/sbin", "GREETING=hello world"], cwd="/work",
               user={"uid": 1000, "gid": 1001, "additionalGids": [1002]})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "hello world|/work|1000:1001:1001 1002"


@pytest.mark.parametrize("code", [0, 3])
def test_exit_code_is_the_process_status(runtime, bundle, code):
    proc = run(runtime, bundle, ["sh", "-c", f"exit {code}"])
    assert proc.returncode == code, proc.stderr


def test_missing_executable(runtime, bundle):
    proc = run(runtime, bundle, ["no-such-program"])
    # krat-runtime says 127 itself; runc exits 1 and the engine maps its message.
    assert proc.returncode == (127 if runtime.name == "krat" else 1), proc.stderr
    assert "no-such-program" in proc.stderr and "not found" in proc.stderr


def test_not_executable(runtime, bundle):
    proc = run(runtime, bundle, ["/etc"])
    assert proc.returncode == (126 if runtime.name == "krat" else 1), proc.stderr
    assert "/etc" in proc.stderr


def test_script_errors_name_the_interpreter_or_crlf(krat_runtime, bundle):
    runtime = krat_runtime
    script = bundle.rootfs / "bin" / "crlf.sh"
    script.write_bytes(b"#!/bin/sh\r\necho hi\r\n")
    script.chmod(0o755)
    proc = run(runtime, bundle, ["/bin/crlf.sh"])
    assert proc.returncode == 127 and "CRLF" in proc.stderr, proc.stderr
    script.write_bytes(b"#!/usr/bin/python3\nprint(1)\n")
    proc = run(runtime, bundle, ["/bin/crlf.sh"])
    assert proc.returncode == 127 and "/usr/bin/python3" in proc.stderr, proc.stderr


def test_binary_for_another_architecture(krat_runtime, bundle):
    runtime = krat_runtime
    fake = bundle.rootfs / "bin" / "foreign"
    machine = 183 if os.uname().machine != "aarch64" else 62
    fake.write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 11 + machine.to_bytes(2, "little") + b"\0" * 100)
    fake.chmod(0o755)
    proc = run(runtime, bundle, ["/bin/foreign"])
    assert proc.returncode == 126 and "exec format error" in proc.stderr, proc.stderr


def test_hostname(runtime, bundle):
    bundle.config["hostname"] = "inside-box"
    proc = run(runtime, bundle, ["hostname"])
    assert proc.stdout.strip() == "inside-box", proc.stderr


def test_errors_go_to_the_json_log(runtime, bundle, tmp_path):
    log = tmp_path / "runtime.log"
    container_id, path = configure(runtime, bundle, ["no-such-program"])
    proc = runtime("run", "--bundle", path, container_id, log=str(log), stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    errors = [json.loads(line) for line in log.read_text().splitlines() if '"error"' in line]
    assert errors and "no-such-program" in errors[-1]["msg"] and "not found" in errors[-1]["msg"], log.read_text()


def test_umask_is_0022_unless_the_spec_says(runtime, bundle):
    proc = run(runtime, bundle, ["sh", "-c", "umask"])
    assert proc.stdout.strip() == "0022", proc.stderr
    proc = run(runtime, bundle, ["sh", "-c", "umask"], user={"uid": 0, "gid": 0, "umask": 0o077})
    assert proc.stdout.strip() == "0077", proc.stderr
