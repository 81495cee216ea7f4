"""Named network namespaces: an nsfs bind mount at `<runroot>/netns/<id>`.

The engine puts that path into config.json (`linux.namespaces` entry
{"type": "network", "path": ...}); the runtime joins it with setns(2). The namespace
lives as long as the bind mount (or a process in it), so `delete` unmounts and unlinks.

`create` makes the namespace in this process (unshare, bind mount, setns back);
`nsenter --net=FILE` runs a command inside. `ip -n` only accepts names under
/run/netns, so it is not used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from krat.errors import Internal, Unavailable

MNT_DETACH = 2


def run(argv: Sequence[str], input: str | None = None, what: str = "") -> str:
    """Run a kernel-configuration tool; failures become one-line errors naming the step."""
    code, out, err = Tool(argv, input, what).wait()
    if code != 0:
        detail = (err or out).strip().splitlines()
        raise Internal(f"{what or argv[0]} failed: {detail[-1] if detail else f'exit {code}'}")
    return out


class Tool:
    """A tool (ip, nft, conntrack) started with `input` on its stdin; wait() gives (exit code,
    stdout, stderr). posix_spawn and pipes: the subprocess module costs a bridge `run`
    ~2.7 ms of imports (selectors, threading, locale). Outputs are read to the end, stdout
    then stderr: these tools say little on stderr."""

    def __init__(self, argv: Sequence[str], input: str | None = None, what: str = "") -> None:
        argv = list(argv)
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self.pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[
                (os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)])
        except FileNotFoundError as err:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            raise Unavailable(f"{argv[0]} is not installed (needed for {what or 'networking'})") from err
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        self.out, self.err = out_r, err_r
        try:
            data = (input or "").encode()
            while data:
                data = data[os.write(in_w, data):]
        except BrokenPipeError:
            pass   # it did not read it all: its exit code says why
        finally:
            os.close(in_w)

    def wait(self) -> tuple[int, str, str]:
        out, err = _drain(self.out), _drain(self.err)
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status), out, err


def _drain(fd: int) -> str:
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def create(path: str, lo_up: bool = False) -> str:
    """A new network namespace pinned at `path`, with only `lo` (up if lo_up)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)
    try:
        _create_here(path, lo_up)
    except BaseException:
        delete(path)
        raise
    return path


CLONE_NEWNET = 0x40000000
MS_BIND = 4096


def _create_here(path: str, lo_up: bool) -> None:
    """What `unshare --net=PATH [ip link set lo up]` does, in this (single-threaded) process,
    without a fork or an exec: unshare(CLONE_NEWNET), bind-mount the new namespace on `path`,
    bring its `lo` up, and setns back. Sockets opened before keep their namespace. A fork of
    the CLI cost 2-10 ms (its page tables), a `ctypes` import 1.7 ms."""
    from krat.runtime.syscalls import LinuxSyscalls

    calls = LinuxSyscalls()
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        calls.unshare(CLONE_NEWNET)
        try:
            calls.mount("/proc/thread-self/ns/net", str(path), "", MS_BIND)
            if lo_up:
                calls.link_up("lo")
        finally:
            calls.setns(home, CLONE_NEWNET)   # must not fail: this process stays where it was
    except OSError as err:
        raise Internal(f"create network namespace {os.path.basename(path)} failed: {err.strerror or err}") from err
    finally:
        os.close(home)


def host_netns() -> str:
    """The caller's network namespace as a path `ip ... netns` accepts."""
    return f"/proc/{os.getpid()}/ns/net"


def is_mounted(path: str) -> bool:
    target = str(path)
    try:
        with open("/proc/self/mounts") as mounts:
            return any(line.split()[1] == target for line in mounts)
    except OSError:
        return False


def delete(path: str) -> None:
    """Unmount and remove a namespace file; missing is fine (removal is idempotent)."""
    if not os.path.exists(path):
        return
    _umount(path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _umount(path: str) -> None:
    from krat.runtime import libc   # not ctypes: ~1.7 ms of every bridge run's detach

    # Detach: a process that still holds the namespace keeps it alive, we only drop our pin.
    while libc.umount2(str(path), MNT_DETACH) == 0:
        pass


def exec_argv(path: str, argv: Sequence[str]) -> list[str]:
    """argv that runs `argv` inside the namespace at `path`."""
    return ["nsenter", f"--net={path}", *argv]
