"""The console socket (pty master over SCM_RIGHTS) and exec into a running container, both runtimes."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import threading
import time

import pytest

from runtime_bundles import configure, create, wait_status
from runtime_bundles import bundle, krat_runtime, rootfs_template, runtime  # noqa: F401 - fixtures

pytestmark = pytest.mark.root


class ConsoleSocket:
    """A unix socket that receives one pty master fd, as a container engine's monitor does."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.master: int | None = None
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            _msg, fds, _flags, _addr = socket.recv_fds(conn, 1024, 1)
            self.master = fds[0]

    def read_until(self, needle: bytes, timeout: float = 20) -> bytes:
        self.thread.join(timeout)
        assert self.master is not None, "no pty master received"
        data = b""
        deadline = time.monotonic() + timeout
        while needle not in data and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
        return data

    def close(self) -> None:
        self.server.close()
        if self.master is not None:
            os.close(self.master)


@pytest.fixture
def console(tmp_path):
    sock = ConsoleSocket(str(tmp_path / "console.sock"))
    yield sock
    sock.close()


def test_terminal_through_console_socket(runtime, bundle, console):
    container_id, path = configure(runtime, bundle, ["sh", "-c", "tty; stty size; echo ready; read line; echo got:$line"],
                                   terminal=True, consoleSize={"height": 30, "width": 100})
    proc = runtime("create", "--bundle", path, "--console-socket", console.path, container_id,
                   stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert runtime("start", container_id).returncode == 0
    out = console.read_until(b"ready")
    assert b"/dev/pts/0" in out and b"30 100" in out, out
    os.write(console.master, b"hello\n")
    out = console.read_until(b"got:hello")
    assert b"got:hello" in out, out
    wait_status(runtime, container_id, "stopped")


def test_terminal_needs_a_console_socket(runtime, bundle):
    container_id, path = configure(runtime, bundle, ["true"], terminal=True)
    proc = runtime("create", "--bundle", path, container_id, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert runtime("state", container_id).returncode != 0


def test_exec_joins_the_running_container(runtime, bundle, tmp_path):
    bundle.config["hostname"] = "exec-box"
    container_id = create(runtime, bundle, ["sleep", "1000"], tmp_path / "out.log")
    runtime("start", container_id)
    wait_status(runtime, container_id, "running")
    proc = runtime("exec", container_id, "sh", "-c",
                   "hostname; echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; grep -E '^(CapEff|Seccomp):' /proc/self/status",
                   stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "exec-box"
    assert int(lines[1]) > 1  # a new process in the container's pid namespace
    assert lines[2].strip() == "sleep 1000"
    assert lines[3].split()[1] == "00000000a80425fb" and lines[4].split()[1] == "2"
    assert runtime("exec", container_id, "sh", "-c", "exit 7", stdin=subprocess.DEVNULL).returncode == 7


def test_exec_with_process_json(runtime, bundle, tmp_path):
    container_id = create(runtime, bundle, ["sleep", "1000"], tmp_path / "out.log")
    runtime("start", container_id)
    wait_status(runtime, container_id, "running")
    process = {"terminal": False, "user": {"uid": 1000, "gid": 1000}, "args": ["sh", "-c", "id -u; pwd; echo $FOO"],
               "env": ["PATH=/bin", "FOO=bar"], "cwd": "/tmp"}
    spec = tmp_path / "process.json"
    spec.write_text(json.dumps(process))
    proc = runtime("exec", "--process", str(spec), container_id, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1000", "/tmp", "bar"]


def test_exec_with_rlimits(runtime, bundle, tmp_path):
    """An exec's own rlimits (the module that sets them loads before the child joins the container)."""
    container_id = create(runtime, bundle, ["sleep", "1000"], tmp_path / "out.log")
    runtime("start", container_id)
    wait_status(runtime, container_id, "running")
    process = {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "ulimit -n"],
               "env": ["PATH=/bin"], "cwd": "/", "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 200, "hard": 300}]}
    spec = tmp_path / "process.json"
    spec.write_text(json.dumps(process))
    proc = runtime("exec", "--process", str(spec), container_id, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["200"]


def test_exec_tty(runtime, bundle, tmp_path, console):
    container_id = create(runtime, bundle, ["sleep", "1000"], tmp_path / "out.log")
    runtime("start", container_id)
    wait_status(runtime, container_id, "running")
    proc = runtime("exec", "--tty", "--console-socket", console.path, "--detach", container_id, "sh", "-c", "tty; echo done",
                   stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    out = console.read_until(b"done")
    assert b"/dev/pts/" in out and b"done" in out, out


def test_exec_bad_input_is_one_line(krat_runtime, bundle, tmp_path):
    container_id = create(krat_runtime, bundle, ["sleep", "1000"], tmp_path / "out.log")
    krat_runtime("start", container_id)
    for argv in (["exec", "--user", "bob", container_id, "true"], ["exec", container_id],
                 ["exec", "--process", str(tmp_path / "missing.json"), container_id],
                 ["exec", container_id, "no-such-cmd"]):
        proc = krat_runtime(*argv, stdin=subprocess.DEVNULL)
        assert proc.returncode in (1, 127), (argv, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
