"""Mounts of the spec, /dev, masked and read-only paths: decided in pure functions, then done.

Destinations are resolved inside the rootfs without following a symlink out of it
(a hostile image could point /proc at /etc on the host: CVE-2019-19921 class).
"""

from __future__ import annotations

import os
import stat

from krat.oci.process import Mount
from krat.oci.linux import Device
from krat.oci.records import record
from krat.runtime import syscalls as sc

FLAGS = {
    "ro": (sc.MS_RDONLY, True), "rw": (sc.MS_RDONLY, False), "nosuid": (sc.MS_NOSUID, True),
    "suid": (sc.MS_NOSUID, False), "nodev": (sc.MS_NODEV, True), "dev": (sc.MS_NODEV, False),
    "noexec": (sc.MS_NOEXEC, True), "exec": (sc.MS_NOEXEC, False), "sync": (sc.MS_SYNCHRONOUS, True),
    "async": (sc.MS_SYNCHRONOUS, False), "dirsync": (sc.MS_DIRSYNC, True), "mand": (sc.MS_MANDLOCK, True),
    "nomand": (sc.MS_MANDLOCK, False), "atime": (sc.MS_NOATIME, False), "noatime": (sc.MS_NOATIME, True),
    "diratime": (sc.MS_NODIRATIME, False), "nodiratime": (sc.MS_NODIRATIME, True),
    "relatime": (sc.MS_RELATIME, True), "norelatime": (sc.MS_RELATIME, False),
    "strictatime": (sc.MS_STRICTATIME, True), "nostrictatime": (sc.MS_STRICTATIME, False),
    "nosymfollow": (sc.MS_NOSYMFOLLOW, True), "remount": (sc.MS_REMOUNT, True),
    "bind": (sc.MS_BIND, True), "rbind": (sc.MS_BIND | sc.MS_REC, True),
}
PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC, "shared": sc.MS_SHARED,
    "rshared": sc.MS_SHARED | sc.MS_REC, "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
IGNORED = {"tmpcopyup", "defaults", "idmap", "ridmap"}
# statvfs flags that must be kept when remounting a bind read-only (same bits as MS_*).
KEEP_ON_REMOUNT = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_NOATIME | sc.MS_NODIRATIME

DEFAULT_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
                   ("tty", 5, 0))
DEV_SYMLINKS = (("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
                ("/proc/self/fd/2", "stderr"), ("pts/ptmx", "ptmx"))


@record(frozen=True)
class MountPlan:
    """One spec mount, decided: what to call mount(2) with, and what to do after."""

    destination: str
    source: str
    fstype: str
    flags: int
    data: str
    propagation: tuple[int, ...] = ()
    bind: bool = False
    remount_flags: int | None = None  # a bind that needs a second, flag-setting mount


def plan_mount(m: Mount) -> MountPlan:
    flags, data, props = 0, [], []
    for opt in m.options:
        if opt in FLAGS:
            bit, on = FLAGS[opt]
            flags = flags | bit if on else flags & ~bit
        elif opt in PROPAGATION:
            props.append(PROPAGATION[opt])
        elif opt not in IGNORED:
            data.append(opt)
    bind = m.type == "bind" or bool(flags & sc.MS_BIND)
    if bind:
        flags |= sc.MS_BIND
    extra = flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
    remount = (sc.MS_BIND | sc.MS_REMOUNT | extra) if bind and extra else None
    fstype = "" if bind else (m.type or "none")
    return MountPlan(m.destination, m.source, fstype, flags, ",".join(data), tuple(props), bind, remount)


def secure_join(root: str, path: str) -> str:
    """root + path with every symlink resolved as if root were / (never above root)."""
    parts = [p for p in path.split("/") if p]
    resolved = ""
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            resolved = resolved.rsplit("/", 1)[0]
            continue
        candidate = f"{resolved}/{part}"
        try:
            target = os.readlink(root + candidate)
        except OSError:  # not a link, or missing: take it as it is
            resolved = candidate
            continue
        hops += 1
        if hops > 255:
            raise OSError(40, f"too many levels of symbolic links in {path}")
        if target.startswith("/"):
            resolved = ""
        parts = [p for p in target.split("/") if p] + parts
    return root + resolved if resolved else root


def _is_dir_source(p: MountPlan) -> bool:
    if not p.bind:
        return True
    try:
        return stat.S_ISDIR(os.stat(p.source).st_mode)
    except OSError:
        return True


def do_mount(sys: sc.Syscalls, rootfs: str, p: MountPlan) -> None:
    target = secure_join(rootfs, p.destination)
    if _is_dir_source(p):
        sys.mkdir(target)
    elif not os.path.exists(target):
        sys.mkdir(os.path.dirname(target))
        sys.touch(target)
    source = p.source if p.bind else (p.source or p.fstype)
    sys.mount(source, target, p.fstype, p.flags & ~sc.MS_REMOUNT if p.bind else p.flags, p.data)
    if p.remount_flags is not None:
        sys.mount("", target, "", p.remount_flags | (sc.MS_REC if p.flags & sc.MS_REC else 0))
    for prop in p.propagation:
        sys.mount("", target, "", prop)


def make_devices(sys: sc.Syscalls, rootfs: str, devices: tuple[Device, ...], defaults: bool) -> None:
    """Create /dev nodes; where mknod is refused (user namespaces) bind the host's node instead."""
    wanted = [Device(f"/dev/{n}", "c", ma, mi, 0o666, 0, 0) for n, ma, mi in DEFAULT_DEVICES] if defaults else []
    listed = {d.path for d in devices}
    parents: dict[str, str] = {}   # a node's directory -> resolved in rootfs and made: most share /dev
    for dev in [d for d in wanted if d.path not in listed] + list(devices):
        target = _node_path(sys, rootfs, dev.path, parents)
        kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[dev.type]
        try:
            mode = dev.file_mode if dev.file_mode is not None else 0o666
            try:
                sys.mknod(target, kind | mode, os.makedev(dev.major, dev.minor))
            except FileExistsError:   # rare (a fresh /dev is empty): replace what is there
                os.unlink(target)
                sys.mknod(target, kind | mode, os.makedev(dev.major, dev.minor))
            sys.chmod(target, mode & 0o7777)  # mknod applied our umask
            sys.chown(target, dev.uid or 0, dev.gid or 0)
        except PermissionError:
            sys.touch(target)
            sys.mount(dev.path, target, "", sc.MS_BIND)


def _node_path(sys: sc.Syscalls, rootfs: str, path: str, parents: dict[str, str]) -> str:
    """Where a device node goes: its directory resolved inside rootfs (once per directory),
    and made; its own name is not followed (mknod never follows it: a link there is
    replaced, see make_devices)."""
    directory, _, name = os.path.normpath("/" + path).rpartition("/")
    if name in ("", ".", ".."):
        target = secure_join(rootfs, path)
        sys.mkdir(os.path.dirname(target))
        return target
    parent = parents.get(directory)
    if parent is None:
        parent = parents[directory] = secure_join(rootfs, directory)
        sys.mkdir(parent)
    return f"{parent}/{name}"


def make_dev_symlinks(sys: sc.Syscalls, rootfs: str) -> None:
    dev = secure_join(rootfs, "/dev")
    links = list(DEV_SYMLINKS)
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "core"))
    for target, name in links:
        try:
            sys.symlink(target, os.path.join(dev, name))
        except FileExistsError:
            pass   # the image's own (or a mount's) stays


def mask_path(sys: sc.Syscalls, path: str) -> None:
    """Directories get an empty read-only tmpfs, files a bind of /dev/null (as runc and Docker)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISDIR(st.st_mode):
        sys.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
    else:
        sys.mount("/dev/null", path, "", sc.MS_BIND)


def readonly_path(sys: sc.Syscalls, path: str) -> None:
    """A read-only bind of path on itself, its other flags kept; nothing where path is not
    there. mount_setattr sets read-only alone in one call; the remount it replaces must be
    given the flags to keep (statvfs), where the kernel has no mount_setattr."""
    try:
        sys.mount(path, path, "", sc.MS_BIND | sc.MS_REC)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        sys.mount_setattr(path, sc.MS_RDONLY)
    except OSError:
        keep = os.statvfs(path).f_flag & KEEP_ON_REMOUNT
        sys.mount(path, path, "", sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC | keep)
