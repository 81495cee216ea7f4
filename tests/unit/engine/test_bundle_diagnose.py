"""bundle.diagnose: the reasons Docker leaves opaque, and paths resolved inside the root."""

from __future__ import annotations

import os

from krat.engine.bundle import diagnose, resolve_in_root, resolve_user
from krat.engine.ocigen import ProcessUser


def make(root, path, data: bytes, mode=0o755):
    full = root / path.lstrip("/")
    full.parent.mkdir(parents=True, exist_ok=True)
    full.write_bytes(data)
    os.chmod(full, mode)


def test_reasons(tmp_path):
    make(tmp_path, "/bin/sh", b"\x7fELF" + b"\x02\x01\x01" + b"\0" * 9 + b"\x02\x00" + (62).to_bytes(2, "little"))
    make(tmp_path, "/app/crlf.sh", b"#!/bin/sh\r\necho\r\n")
    make(tmp_path, "/app/py.sh", b"#!/usr/bin/python3\nprint(1)\n")
    make(tmp_path, "/app/data.txt", b"text", 0o644)
    make(tmp_path, "/app/arm", b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00" + (183).to_bytes(2, "little"))
    env = ["PATH=/bin"]
    root = str(tmp_path)
    assert "CRLF" in diagnose(root, ["/app/crlf.sh"], env)
    assert "interpreter /usr/bin/python3 does not exist" in diagnose(root, ["/app/py.sh"], env)
    assert "not found in $PATH (/bin)" in diagnose(root, ["nosuch"], env)
    assert "no such file" in diagnose(root, ["/app/missing"], env)
    assert "not executable" in diagnose(root, ["/app/data.txt"], env)
    assert "is a directory" in diagnose(root, ["/app"], env)
    if os.uname().machine == "x86_64":
        assert "built for arm64" in diagnose(root, ["/app/arm"], env)
        assert diagnose(root, ["sh"], env) == ""


def test_symlinks_cannot_leave_the_root(tmp_path):
    (tmp_path / "etc").mkdir()
    os.symlink("/etc/shadow", tmp_path / "etc" / "passwd")
    os.symlink("../../../../etc", tmp_path / "up")
    assert resolve_in_root(str(tmp_path), "/etc/passwd") == f"{tmp_path}/etc/shadow"
    assert resolve_in_root(str(tmp_path), "/up/hosts") == f"{tmp_path}/etc/hosts"


def test_user_resolution(tmp_path):
    make(tmp_path, "/etc/passwd", b"root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n", 0o644)
    make(tmp_path, "/etc/group", b"root:x:0:\napp:x:1000:\nwheel:x:10:app\n", 0o644)
    root = str(tmp_path)
    assert resolve_user(root, "") == ProcessUser(0, 0, ())
    assert resolve_user(root, "app") == ProcessUser(1000, 1000, (10,))
    assert resolve_user(root, "app:wheel") == ProcessUser(1000, 10, ())
    assert resolve_user(root, "4242") == ProcessUser(4242, 0, ())
    import pytest

    from krat.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="unable to find user ghost"):
        resolve_user(root, "ghost")
