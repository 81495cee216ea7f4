"""Helpers shared by tests; import them as `from support import ...`.

(Every conftest.py is imported as `conftest`, so `from conftest import` is ambiguous.)
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

STRICT = os.environ.get("KRAT_TEST_STRICT") == "1"


def skip_or_fail(reason: str) -> None:
    if STRICT:
        pytest.fail(f"cannot run in strict mode: {reason}")
    pytest.skip(reason)


def is_real_root() -> bool:
    if os.geteuid() != 0:
        return False
    try:
        # In a user namespace uid 0 maps to something else; crun checks the same way.
        fields = Path("/proc/self/uid_map").read_text().split()
        return fields[:3] == ["0", "0", "4294967295"]
    except OSError:
        return False


@dataclass
class KratCLI:
    """Runs the real `krat` command line against one test's private state."""

    root: Path
    runroot: Path
    env: dict[str, str]

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "krat", "--root", str(self.root), "--runroot", str(self.runroot), *args]

    def __call__(self, *args: str, input: bytes | str | None = None, timeout: float = 120,
                 check: bool = False) -> subprocess.CompletedProcess:
        text = not isinstance(input, bytes)
        proc = subprocess.run(self.argv(*args), input=input, capture_output=True, text=text,
                              env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"krat {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    def ok(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self(*args, check=True, **kwargs)

    def fails(self, *args: str, code: int = 125, **kwargs) -> str:
        """Assert a clean failure: the exit code, one line on stderr, no traceback."""
        proc = self(*args, **kwargs)
        assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
        err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode()
        assert "Traceback" not in err, err
        assert err.strip(), "expected an error message on stderr"
        return err.strip()


def _unmount_below(path: Path) -> None:
    prefix = str(path.resolve()) + "/"
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return
    for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if not path:
        skip_or_fail(f"{name} is not installed (scripts/setup.sh installs it)")
    return path


class Terminal:
    """A krat command on the slave side of a fresh pty; we play the user at the master."""

    def __init__(self, krat, *args: str, rows: int = 30, cols: int = 100) -> None:
        # pty.fork, but with the window size set before krat starts: krat reads it at once
        self.fd, slave = pty.openpty()
        self.resize(rows, cols)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.fd)
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
                os.close(slave)
                os.execve(krat.argv()[0], krat.argv(*args), krat.env)
            finally:
                os._exit(127)   # never return into a second copy of pytest
        os.close(slave)
        self.out = b""

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def send(self, text: bytes) -> None:
        os.write(self.fd, text)

    def expect(self, needle: bytes, timeout: float = 10.0) -> bytes:
        end = time.monotonic() + timeout
        while needle not in self.out:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} not seen; got {self.out[-500:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    raise AssertionError(f"EOF before {needle!r}; got {self.out[-500:]!r}")
                self.out += data
                for _ in range(data.count(b"\x1b[6n")):   # answer the shell's cursor query, as a terminal does
                    os.write(self.fd, b"\x1b[1;1R")
        return self.out

    def wait(self, timeout: float = 20.0) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            try:
                if select.select([self.fd], [], [], 0.1)[0]:
                    self.out += os.read(self.fd, 4096)
            except OSError:
                time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("krat did not exit")

    def close(self) -> None:
        """Kill krat if it still runs, reap it and close our side of the pty (for `finally`)."""
        try:
            if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        os.close(self.fd)
