"""The kernel seam: every privileged call the runtime makes goes through `Syscalls`.

`LinuxSyscalls` binds libc with ctypes' C half (krat.runtime.libc; Python 3.11 has no
os.unshare/os.setns);
`RecordingSyscalls` (tests) records the calls instead, so the init sequence and its
pure decisions are testable without root. File-system reads that only inform a
decision (stat, exists) are not routed here; writes and mounts are.
"""

from __future__ import annotations

import _struct as struct  # struct.py only re-exports it
import fcntl
import os

from krat.runtime import libc as ctypes  # the ctypes names, without ctypes/__init__.py (~1.2 ms)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # typing (and re, enum with it) is not imported at run time

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NAMESPACE_FLAGS = {"pid": CLONE_NEWPID, "network": CLONE_NEWNET, "mount": CLONE_NEWNS, "ipc": CLONE_NEWIPC,
                   "uts": CLONE_NEWUTS, "user": CLONE_NEWUSER, "cgroup": CLONE_NEWCGROUP, "time": CLONE_NEWTIME}
# The names of /proc/PID/ns/* for each spec namespace type.
NAMESPACE_FILES = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
                   "user": "user", "cgroup": "cgroup", "time": "time"}

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

# Syscalls numbered 424 and up have the same number on every architecture (alpha aside).
SYS_CLOSE_RANGE = 436
SYS_MOUNT_SETATTR = 442
CLOSE_RANGE_CLOEXEC = 4
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
# mount_setattr's MOUNT_ATTR_RDONLY, _NOSUID, _NODEV, _NOEXEC have the values of the MS_ flags.
MOUNT_ATTR_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431

_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


_CAP_HEADER = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)   # pid 0: this thread; made once, at import


class Syscalls(Protocol):
    def unshare(self, flags: int) -> None: ...
    def setns(self, fd: int, nstype: int) -> None: ...
    def mount(self, source: str, target: str, fstype: str, flags: int, data: str = "") -> None: ...
    def mount_setattr(self, target: str, set_flags: int, clear_flags: int = 0, recursive: bool = False) -> None: ...
    def umount(self, target: str, flags: int = 0) -> None: ...
    def pivot_root(self, new_root: str, put_old: str) -> None: ...
    def sethostname(self, name: str) -> None: ...
    def link_up(self, name: str) -> None: ...
    def mknod(self, path: str, mode: int, device: int) -> None: ...
    def symlink(self, target: str, path: str) -> None: ...
    def mkdir(self, path: str, mode: int = 0o755) -> None: ...
    def touch(self, path: str) -> None: ...
    def chown(self, path: str, uid: int, gid: int) -> None: ...
    def chmod(self, path: str, mode: int) -> None: ...
    def write_file(self, path: str, data: str) -> None: ...
    def chdir(self, path: str) -> None: ...
    def prctl(self, option: int, arg2: int = 0, arg3: int = 0) -> None: ...
    def capset(self, effective: int, permitted: int, inheritable: int) -> None: ...
    def setrlimit(self, resource: int, soft: int, hard: int) -> None: ...
    def set_user(self, uid: int, gid: int, groups: tuple[int, ...]) -> None: ...


class LinuxSyscalls:
    """The real kernel, through libc."""

    def __init__(self) -> None:
        self.libc = ctypes.process()

    def _check(self, result: int, what: str, path: str | None = None) -> None:
        if result < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}", path)

    def unshare(self, flags: int) -> None:
        self._check(self.libc.unshare(flags), "unshare")

    def setns(self, fd: int, nstype: int) -> None:
        self._check(self.libc.setns(fd, nstype), "setns")

    def mount(self, source: str, target: str, fstype: str, flags: int, data: str = "") -> None:
        result = self.libc.mount(source.encode() or None, target.encode(), fstype.encode() or None,
                                 ctypes.c_ulong(flags), data.encode() or None)
        if result < 0:   # the message only then: ~40 mounts a container start
            self._check(result, f"mount {source or fstype} on {target}", target)

    def mount_setattr(self, target: str, set_flags: int, clear_flags: int = 0, recursive: bool = False) -> None:
        """Set and clear flags (of MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC) of the mount at
        target, and with recursive of every mount below it, the others kept: one call where
        binds need a remount each. Linux >= 5.12 (else OSError ENOSYS: the caller remounts)."""
        # struct mount_attr: attr_set, attr_clr, propagation, userns_fd
        attr = struct.pack("=QQQQ", set_flags & MOUNT_ATTR_FLAGS, clear_flags & MOUNT_ATTR_FLAGS, 0, 0)
        result = self.libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, target.encode(), AT_RECURSIVE if recursive else 0,
                                   attr, len(attr))
        self._check(result, f"mount_setattr {target}", target)

    def umount(self, target: str, flags: int = 0) -> None:
        self._check(self.libc.umount2(target.encode(), flags), f"umount {target}", target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._check(self.libc.pivot_root(new_root.encode(), put_old.encode()), "pivot_root", new_root)

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        self._check(self.libc.sethostname(raw, len(raw)), "sethostname")

    def link_up(self, name: str) -> None:
        """Set IFF_UP on a network interface of this network namespace (SIOCSIFFLAGS)."""
        import _socket  # built in (no file to read), and only where the runtime makes a network namespace

        SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 1
        s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        try:
            got = fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, struct.pack("16sH22x", name.encode(), 0))
            flags = struct.unpack("16sH22x", got)[1]
            if not flags & IFF_UP:   # up already (earlyinit does it ahead): no rtnl round
                fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH22x", name.encode(), flags | IFF_UP))
        finally:
            s.close()

    def mknod(self, path: str, mode: int, device: int) -> None:
        os.mknod(path, mode, device)

    def symlink(self, target: str, path: str) -> None:
        os.symlink(target, path)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        """os.makedirs(path, mode, exist_ok=True), with one mkdir(2) when the parent exists
        (the usual case: the init makes ~30 mount points and device directories)."""
        try:
            os.mkdir(path, mode)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
        except FileNotFoundError:
            os.makedirs(path, mode, exist_ok=True)

    def touch(self, path: str) -> None:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(path, uid, gid)

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(path, mode)

    def write_file(self, path: str, data: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)

    def chdir(self, path: str) -> None:
        os.chdir(path)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0) -> None:
        if self.libc.prctl(option, ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), 0, 0) < 0:   # ~30 a start
            self._check(-1, f"prctl {option}")

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        # struct __user_cap_data_struct[2] (the low 32 bits, then the high), packed: filling
        # ctypes structures is ~0.03 ms in the init's fresh fork. The kernel only reads it.
        low, high = 0xFFFFFFFF, 0xFFFFFFFF << 32
        data = struct.pack("=6I", effective & low, permitted & low, inheritable & low,
                           (effective & high) >> 32, (permitted & high) >> 32, (inheritable & high) >> 32)
        self._check(self.libc.capset(ctypes.byref(_CAP_HEADER), data), "capset")

    def setrlimit(self, resource: int, soft: int, hard: int) -> None:
        import resource as _resource  # loaded by the caller before the fork (see init.py)

        _resource.setrlimit(resource, (soft, hard))

    def set_user(self, uid: int, gid: int, groups: tuple[int, ...]) -> None:
        os.setgroups(list(groups))
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)


def cloexec_from(first: int) -> bool:
    """Mark every fd from `first` on close-on-exec with one close_range(2) call; False where
    the kernel has none (< 5.11) and nothing was done."""
    return ctypes.process().syscall(SYS_CLOSE_RANGE, first, -1, CLOSE_RANGE_CLOEXEC) == 0  # -1: ~0U, the last fd


class RecordingSyscalls:
    """Records every call as a tuple; for unit tests of the init sequence."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args):
            self.calls.append((name, *args))

        return record

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]
