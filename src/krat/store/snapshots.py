"""Container root filesystems: an overlay of shared layer directories plus a private upper dir.

    mount_overlay(lowers, target, upper, work)   lowers bottom-most first (Image.layer_dirs order)
    unmount(target)

overlayfs takes its options in one page (4096 bytes). With full paths ~40 layers fit;
when they do not, the mount is made from the layers' root directory using the short
`l/<name>` links (layers.py), which fits ~130 layers, Docker's limit being 128. The
chdir happens in a forked child so a threaded caller's cwd never changes.
"""

from __future__ import annotations

import os

from krat.errors import InvalidArgument, PermissionDenied

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

    AnyPath = str | os.PathLike[str]   # the engine's paths are str, the builder's pathlib.Path

PAGE_LIMIT = 4000  # options page (4096) minus room for the kernel's own additions
MNT_DETACH = 2


def _mount(source: str, target: str, fstype: str, flags: int, data: str) -> None:
    from krat.runtime import libc   # _ctypes alone: the ctypes package costs `krat run` ~1-3 ms

    rc = libc.process().mount(source.encode(), target.encode(), fstype.encode(), libc.c_ulong(flags), data.encode())
    if rc != 0:
        err = libc.get_errno()
        raise OSError(err, f"mount {fstype} on {target}: {os.strerror(err)}")


def _escape(path: str) -> str:
    for ch in ("\\", ":", ","):
        path = path.replace(ch, "\\" + ch)
    return path


def overlay_options(lowers: Sequence[AnyPath], upper: AnyPath | None, work: AnyPath | None,
                    short: bool = False, userxattr: bool = False, volatile: bool = False) -> str:
    """The overlay option string; lowers are given bottom-most first, overlay wants top first.
    volatile: no syncs to the upper directory (for one whose data is thrown away)."""
    if short:
        # imported here: layers.py pulls in tarfile, which `krat run` must not pay for
        from krat.store.layers import LINKS, short_name

        names = [f"{LINKS}/{short_name(os.path.basename(os.path.dirname(p)))}" for p in reversed(lowers)]
    else:
        names = [_escape(str(p)) for p in reversed(lowers)]
    opts = [f"lowerdir={':'.join(names)}"]
    if upper is not None:
        opts += [f"upperdir={_escape(str(upper))}", f"workdir={_escape(str(work))}"]
    if userxattr:
        opts.append("userxattr")
    if upper is not None:
        opts += _diffable_options()
    if volatile and upper is not None:
        opts.append("volatile")
    return ",".join(opts)


def _diffable_options() -> list[str]:
    """diff() reads the upper dir as plain files and whiteouts: turn off the features that
    would record changes elsewhere (renamed-dir redirects, metadata-only copy-ups) when the
    kernel enables them by default."""
    out = []
    for name in ("redirect_dir", "metacopy"):
        try:  # os.open/os.read: 3 system calls, where open() in text mode makes 9
            fd = os.open(f"/sys/module/overlay/parameters/{name}", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            value = os.read(fd, 64).strip()
        except OSError:
            continue
        finally:
            os.close(fd)
        if value not in (b"N", b"off"):
            out.append(f"{name}=off")
    return out


def mount_overlay(lowers: Sequence[AnyPath], target: AnyPath, upper: AnyPath | None = None,
                  work: AnyPath | None = None, readonly: bool = False, volatile: bool = False) -> None:
    """Mount the overlay of `lowers` (bottom first) with `upper`/`work` (None: read-only) at target.
    volatile (for a container removed when it exits): overlayfs skips syncing the upper
    directory, so unmounting never waits for a journal commit (up to ~100 ms here)."""
    lowers = list(lowers)
    if upper is not None and work is None:
        raise InvalidArgument("an overlay with an upper directory needs a work directory")
    userxattr = os.geteuid() != 0
    if not lowers or (upper is None and len(lowers) == 1):
        # overlayfs needs two layers without an upper dir and one with: add an empty bottom
        empty = os.path.join(os.path.dirname(target), ".empty-lower")
        os.makedirs(empty, exist_ok=True)
        lowers = [empty, *lowers]
    flags = 1 if readonly or upper is None else 0  # MS_RDONLY
    data = overlay_options(lowers, upper, work, userxattr=userxattr, volatile=volatile)
    try:
        if len(data) < PAGE_LIMIT:
            _mount("overlay", str(target), "overlay", flags, data)
        else:
            _mount_short(lowers, target, upper, work, flags, userxattr, volatile)
    except OSError as err:
        if err.errno in (1, 13):
            raise PermissionDenied(f"cannot mount the root filesystem at {target}: {err.strerror}") from None
        raise InvalidArgument(f"cannot mount the root filesystem at {target}: {err.strerror}") from None


def _mount_short(lowers: list[AnyPath], target: AnyPath, upper: AnyPath | None, work: AnyPath | None,
                 flags: int, userxattr: bool, volatile: bool = False) -> None:
    roots = {os.path.dirname(os.path.dirname(p)) for p in lowers}
    if len(roots) != 1:
        raise InvalidArgument(f"{len(lowers)} layers do not fit in overlay's mount options")
    root = roots.pop()
    data = overlay_options(lowers, upper, work, short=True, userxattr=userxattr, volatile=volatile)
    if len(data) >= PAGE_LIMIT:
        raise InvalidArgument(f"too many layers ({len(lowers)}) for one overlay mount")
    pid = os.fork()
    if pid == 0:  # child: chdir so the relative lowerdirs resolve, mount, report by exit code
        code = 0
        try:
            os.chdir(root)
            _mount("overlay", str(target), "overlay", flags, data)
        except OSError as err:
            code = err.errno or 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise OSError(code, os.strerror(code))


def unmount(target: AnyPath, lazy: bool = False) -> None:
    """Unmount `target`; a target that is not mounted is fine (idempotent cleanup)."""
    from krat.runtime import libc

    err = libc.umount2(str(target), MNT_DETACH if lazy else 0)
    if err:
        if err in (22, 2):  # EINVAL: not a mount point; ENOENT: gone already
            return
        if err == 16 and not lazy:  # EBUSY: something still has it open; detach it
            unmount(target, lazy=True)
            return
        raise OSError(err, f"umount {target}: {os.strerror(err)}")


def is_mounted(target: AnyPath) -> bool:
    want = os.path.realpath(target)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == want for line in f)
