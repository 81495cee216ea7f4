"""-it: a real pseudo-terminal driven through a pty: raw mode, window size and resizes,
detach with ctrl-p ctrl-q and attach again, exit codes."""

from __future__ import annotations

import os
import signal
import termios
import time

import pytest

from engine_helpers import wait_for
from support import Terminal

pytestmark = pytest.mark.root


def test_run_it_is_a_real_terminal_with_resizes(kr, runtime):
    term = Terminal(kr, "run", "-it", "--rm", "busybox", "sh")
    term.expect(b"/ # ")
    term.send(b"stty size; tty; echo $TERM; stty -a | grep -o -- '-icanon' || echo canon\r")
    term.expect(b"xterm")
    assert b"30 100" in term.out and b"/dev/pts/0" in term.out
    term.resize(40, 120)
    os.kill(term.pid, signal.SIGWINCH)
    for _ in range(20):   # the resize travels CLI -> monitor -> pty: ask until it has arrived
        term.send(b"stty size\r")
        try:
            term.expect(b"40 120", timeout=0.5)
            break
        except AssertionError:
            continue
    else:
        raise AssertionError(f"the resize never reached the container; got {term.out[-300:]!r}")
    term.send(b"exit 4\r")
    assert term.wait() == 4


def test_the_terminal_has_its_size_from_the_start(kr, runtime):
    """A program that reads the size first thing (`stty size`, an editor) sees the caller's
    terminal, not 0x0 until a resize comes: the pty is made with it (process.consoleSize)."""
    kr.ok("run", "-d", "--name", "sized", "busybox", "sleep", "60")
    for verb in (("run", "--rm", "-it", "busybox"), ("exec", "-it", "sized")):
        term = Terminal(kr, *verb, "stty", "size", rows=33, cols=101)
        term.expect(b"\n")
        assert term.wait() == 0, term.out
        assert term.out.strip() == b"33 101", (verb, term.out)


def test_detach_and_attach_again(kr, runtime):
    term = Terminal(kr, "run", "-it", "--name", "tty1", "busybox", "sh")
    term.expect(b"/ # ")
    term.send(b"echo before\r")
    term.expect(b"before\r\n/ # \x1b[6n")        # the prompt (and its cursor query) is answered
    time.sleep(0.2)
    term.send(b"\x10\x11")                      # ctrl-p ctrl-q
    assert term.wait() == 0
    assert kr.ok("inspect", "-f", "{{.State.Running}}", "tty1").stdout.strip() == "true"
    again = Terminal(kr, "attach", "tty1")
    # a pty master reports its slave's termios: wait until attach has made it raw
    wait_for(lambda: not termios.tcgetattr(again.fd)[3] & termios.ICANON, what="attach's raw mode")
    again.send(b"\r")
    again.expect(b"/ # ")
    again.send(b"echo after\r")
    again.expect(b"after\r\n")
    again.send(b"exit 3\r")
    assert again.wait() == 3
    assert kr.ok("inspect", "-f", "{{.State.ExitCode}}", "tty1").stdout.strip() == "3"
    assert "before" in kr.ok("logs", "tty1").stdout


def test_exec_it_is_interactive(kr, runtime):
    kr.ok("run", "-d", "--name", "ex", "busybox", "sleep", "100")
    term = Terminal(kr, "exec", "-it", "ex", "sh")
    term.expect(b"# ")
    term.send(b"tty; exit 6\r")
    term.expect(b"/dev/pts/")
    assert term.wait() == 6


TRAP_INT = "trap 'echo got-int; exit 9' INT; echo ready; while true; do sleep 0.1; done"


def _ctrl_c_reaches(kr, *args: str) -> None:
    """The command's process traps SIGINT: Ctrl-C to the krat CLI must reach it."""
    import subprocess

    proc = subprocess.Popen(kr.argv(*args, "sh", "-c", TRAP_INT), env=kr.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 9 and b"got-int" in out


def test_foreground_ctrl_c_is_forwarded(kr, runtime):
    _ctrl_c_reaches(kr, "run", "--rm", "busybox")


def test_exec_forwards_ctrl_c_to_its_process(kr, runtime):
    """The process writes to our stdout directly, so "ready" can come before the CLI knows
    its pid: a Ctrl-C then must wait for the forwarder, not stop the CLI. A few rounds, as
    that window is narrow on an idle machine."""
    kr.ok("run", "-d", "--name", "ex-int", "busybox", "sleep", "60")
    for _ in range(5):
        _ctrl_c_reaches(kr, "exec", "ex-int")
    kr.ok("rm", "-f", "ex-int")
