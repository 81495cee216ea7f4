"""--privileged gives the container every device node of the host's /dev, as Docker does (same
numbers, mode and owner; usable, since the device cgroup allows all); without it they are absent."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine_helpers import assert_nothing_left
from support import skip_or_fail

pytestmark = pytest.mark.root

NOT_COPIED = ("/dev/pts/", "/dev/shm/", "/dev/mqueue/", "/dev/fd/")
NOT_COPIED_FILES = {"/dev/console", "/dev/ptmx"}


def host_nodes() -> dict[str, str]:
    """path -> 'c|b major:minor mode uid:gid' for the device nodes of the host's /dev."""
    out = {}
    for dirpath, _, files in os.walk("/dev"):
        for name in files:
            path = os.path.join(dirpath, name)
            if path.startswith(NOT_COPIED) or path in NOT_COPIED_FILES:
                continue
            st = os.lstat(path)
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
                out[path] = (f"{kind} {os.major(st.st_rdev)}:{os.minor(st.st_rdev)} "
                             f"{stat.S_IMODE(st.st_mode):o} {st.st_uid}:{st.st_gid}")
    return out


# The same facts from inside the container, with busybox's stat (%t/%T: hex major/minor).
LIST = ("find /dev -type c -o -type b | grep -v -e ^/dev/pts/ | while read p; do "
        "stat -c '%n %F %t:%T %a %u:%g' \"$p\"; done")


def container_nodes(out: str) -> dict[str, str]:
    nodes = {}
    for line in out.splitlines():
        path, rest = line.split(" ", 1)
        kind = "c" if "character" in rest else "b"
        numbers, mode, owner = rest.split()[-3:]
        major, minor = (int(x, 16) for x in numbers.split(":"))
        nodes[path] = f"{kind} {major}:{minor} {mode} {owner}"
    return nodes


def test_privileged_gets_the_host_devices(kr, runtime):
    host = host_nodes()
    if "/dev/kmsg" not in host:
        skip_or_fail("this host has no /dev/kmsg")
    block = sorted(p for p, facts in host.items() if facts.startswith("b "))
    inside = container_nodes(kr.ok("run", "--rm", "--privileged", "busybox", "sh", "-c", LIST).stdout)
    missing = {p: f for p, f in host.items() if inside.get(p) != f}
    assert not missing, f"host devices missing or different in a privileged container: {missing}"
    # Usable, not only listed: the device cgroup allows them.
    out = kr.ok("run", "--rm", "--privileged", "busybox", "sh", "-c",
                "head -n 1 /dev/kmsg >/dev/null && echo kmsg-ok" +
                (f"; dd if={block[0]} of=/dev/null bs=512 count=1 && echo block-ok" if block else "")).stdout
    assert "kmsg-ok" in out and (not block or "block-ok" in out)
    # /dev/ptmx stays the container's own pts/ptmx, and a terminal still works.
    assert kr.ok("run", "--rm", "--privileged", "busybox", "readlink", "/dev/ptmx").stdout == "pts/ptmx\n"
    assert_nothing_left(kr)


def test_without_privileged_only_the_default_devices(kr, runtime):
    inside = container_nodes(kr.ok("run", "--rm", "busybox", "sh", "-c", LIST).stdout)
    assert set(inside) == {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}
    proc = kr("run", "--rm", "busybox", "head", "-n", "1", "/dev/kmsg")
    assert proc.returncode != 0 and "No such file" in proc.stderr
    # A --device beside --privileged keeps its own path and permissions.
    if Path("/dev/kmsg").exists():
        out = kr.ok("run", "--rm", "--privileged", "--device", "/dev/null:/dev/kmsg2", "busybox",
                    "sh", "-c", "ls /dev/kmsg /dev/kmsg2").stdout.split()
        assert out == ["/dev/kmsg", "/dev/kmsg2"]
    assert_nothing_left(kr)
