"""Finding process.args[0] inside the container, and saying clearly why it cannot run.

Runs inside the container after the user switch (so access(2) answers for that user).
Exit codes follow docker run: 127 not found, 126 found but cannot be run.
"""

from __future__ import annotations

import os
import stat

from krat.errors import CommandCannotRun, CommandNotFound, ContainerCommandError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ELF_MACHINES = {3: "i386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390x", 40: "arm", 62: "x86_64",
                183: "aarch64", 243: "riscv64", 258: "loongarch64"}
# Machines a kernel of each architecture can run natively (compat modes included).
HOST_RUNS = {"x86_64": {62, 3}, "aarch64": {183, 40}, "armv7l": {40}, "i686": {3}, "ppc64le": {21},
             "s390x": {22}, "riscv64": {243}}


def env_path(env: tuple[str, ...]) -> str:
    for item in env:
        if item.startswith("PATH="):
            return item[5:]
    return DEFAULT_PATH


def resolve(name: str, env: tuple[str, ...]) -> str:
    """The path execve should get, or a ContainerCommandError naming what is wrong."""
    if "/" in name:
        check_file(name, name)
        return name
    for directory in env_path(env).split(":"):
        candidate = os.path.join(directory or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(candidate, os.X_OK):
            check_header_of(candidate, name)   # found as check_file checks: a file it may run
            return candidate
    raise CommandNotFound(f"executable file not found in $PATH: {name}")


def check_file(path: str, name: str) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError as err:
        raise CommandNotFound(f"{name}: no such file or directory") from err
    except OSError as err:
        raise CommandCannotRun(f"{name}: {err.strerror.lower()}") from err
    if stat.S_ISDIR(st.st_mode):
        raise CommandCannotRun(f"{name}: is a directory, not a program")
    if not os.access(path, os.X_OK):
        raise CommandCannotRun(f"{name}: permission denied (not executable for this user)")
    check_header_of(path, name)


def check_header_of(path: str, name: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)   # not open(): its io layers, in the init
        try:
            head = os.read(fd, 256)
        finally:
            os.close(fd)
    except OSError:
        return  # execute-only file: let execve judge
    check_header(head, name)


def check_header(head: bytes, name: str) -> None:
    if head.startswith(b"#!"):
        line = head[2:].split(b"\n", 1)[0]
        words = line.strip(b" \t").replace(b"\t", b" ").split(b" ", 1)  # "\r" is part of the name
        if not words:
            raise CommandCannotRun(f"{name}: its #! line names no interpreter")
        interpreter = words[0].decode(errors="replace")
        if interpreter.endswith("\r") and not os.path.exists(interpreter):
            raise CommandNotFound(f"{name}: its #! line ends with CRLF (Windows line endings), so the "
                                  f"interpreter {interpreter!r} has no such file or directory: "
                                  "convert the file to LF endings")
        if not os.path.exists(interpreter):
            raise CommandNotFound(f"{name}: interpreter {interpreter} (from its #! line): no such file or directory "
                                  "in the container")
        return
    if head.startswith(b"\x7fELF") and len(head) >= 20:
        little = head[5] == 1
        machine = int.from_bytes(head[18:20], "little" if little else "big")
        host = os.uname().machine
        if machine not in HOST_RUNS.get(host, {machine}):
            arch = ELF_MACHINES.get(machine, f"machine {machine}")
            raise CommandCannotRun(f"{name}: exec format error: the binary is for {arch}, this host is {host}")


def explain_exec_error(err: OSError, name: str) -> ContainerCommandError:
    """An execve failure that slipped past the checks (races, odd files)."""
    if err.errno == 2:
        return CommandNotFound(f"{name}: no such file or directory")
    if err.errno == 8:
        return CommandCannotRun(f"{name}: exec format error (not a program for this host, or no #! line)")
    return CommandCannotRun(f"{name}: {err.strerror}")
