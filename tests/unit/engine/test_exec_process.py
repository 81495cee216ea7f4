"""The process.json of `krat exec`: the container's process with the exec's changes."""

from __future__ import annotations

from krat.engine.execs import ExecSpec, process_document

BASE = {"terminal": True, "args": ["sh"], "env": ["PATH=/bin", "TERM=xterm"], "cwd": "/",
        "user": {"uid": 0, "gid": 0}, "consoleSize": {"height": 50, "width": 200}}


def test_a_tty_exec_gets_its_own_terminals_size_not_the_containers():
    doc = process_document(BASE, ExecSpec(("top",), tty=True, console_size=(33, 101)), None)
    assert doc["terminal"] is True and doc["consoleSize"] == {"height": 33, "width": 101}


def test_no_size_without_a_terminal_of_ours_or_without_tty():
    assert "consoleSize" not in process_document(BASE, ExecSpec(("top",), tty=True), None)
    doc = process_document(BASE, ExecSpec(("ls",), console_size=(33, 101)), None)
    assert doc["terminal"] is False and "consoleSize" not in doc and "TERM=xterm" not in doc["env"]
