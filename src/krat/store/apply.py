"""Apply one layer tar to an empty directory, safely, in the form overlayfs expects.

Input is hostile until checked (DESIGN.md, Security). Every path is resolved one
component at a time with O_NOFOLLOW from a directory fd, so no entry can write
outside the target:

    `..` components                      rejected
    absolute names (/etc/passwd)         neutralised: taken relative to the target
    a path through a symlink             rejected (the walk refuses to follow it)
    a symlink or file already at a name  replaced (unlinked first, created O_EXCL)
    hardlinks                            target resolved inside the target only
    whiteouts .wh.<name>                 a 0/0 character device (overlayfs's whiteout);
                                         `.wh..`, `.wh.`, names with `/` rejected
    opaque .wh..wh..opq                  xattr trusted.overlay.opaque=y on the directory
    device nodes                         created only when privileged, else skipped
    xattrs                               only security.capability and user.*; never the
                                         trusted.overlay.* ones that steer overlayfs

Rootless (not privileged), whiteouts and opaque markers use overlayfs's `userxattr`
form (user.overlay.whiteout / user.overlay.opaque), which a mount with `userxattr` reads.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from dataclasses import dataclass, field
from typing import BinaryIO

from krat.errors import InvalidArgument

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
XATTR_PREFIX = "SCHILY.xattr."
KEPT_XATTRS = ("security.capability", "user.")
CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def opaque_xattr(privileged: bool) -> str:
    return "trusted.overlay.opaque" if privileged else "user.overlay.opaque"


def clean_name(name: str, what: str = "entry") -> list[str]:
    """Split a tar name into components; reject `..`, strip `/` and `.` (absolute -> relative)."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(f"layer {what} {name!r} is unsafe: '..' would leave the layer")
    return parts


@dataclass
class _Dir:
    parts: list[str]
    mode: int
    uid: int
    gid: int
    mtime: float


@dataclass
class Applier:
    root_fd: int
    privileged: bool
    dirs: list[_Dir] = field(default_factory=list)
    skipped_devices: int = 0
    source_fd: int | None = None  # the tar is this regular file: copy member data in the kernel
    layer: bool = True            # .wh. names are whiteouts (a layer); False: plain names (cp)

    # -- walking ---------------------------------------------------------------

    def open_parent(self, parts: list[str], create: bool, name: str) -> int:
        """An fd of the directory holding parts[-1]; never follows a symlink."""
        fd = os.dup(self.root_fd)
        try:
            for comp in parts[:-1]:
                try:
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise InvalidArgument(f"layer entry {name!r}: {comp!r} does not exist") from None
                    os.mkdir(comp, 0o755, dir_fd=fd)
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except OSError as err:
                    if err.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise InvalidArgument(
                            f"layer entry {name!r} is unsafe: {comp!r} is a symlink or not a directory"
                        ) from None
                    raise
                os.close(fd)
                fd = nfd
            return fd
        except BaseException:
            os.close(fd)
            raise

    def remove_existing(self, pfd: int, name: str, keep_dir: bool) -> bool:
        """Remove what is at `name` unless it is a directory and keep_dir; True if a dir stays."""
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            import shutil

            shutil.rmtree(name, dir_fd=pfd)
        else:
            os.unlink(name, dir_fd=pfd)
        return False

    # -- entries -----------------------------------------------------------------

    def apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = clean_name(member.name)
        if not parts:
            return  # the root itself: its metadata belongs to the image's root, not ours
        base = parts[-1]
        if self.layer and base.startswith(WHITEOUT_PREFIX):
            self.whiteout(parts, member.name)
            return
        pfd = self.open_parent(parts, create=True, name=member.name)
        try:
            exists_dir = self.remove_existing(pfd, base, keep_dir=member.isdir())
            if member.isdir():
                if not exists_dir:
                    os.mkdir(base, 0o700, dir_fd=pfd)
                self.dirs.append(_Dir(parts, member.mode, member.uid, member.gid, member.mtime))
                return
            if member.isreg():
                self.regular(tar, member, pfd, base)
            elif member.issym():
                os.symlink(member.linkname, base, dir_fd=pfd)
                self.finish(pfd, base, member, chmod=False)
            elif member.islnk():
                self.hardlink(member, pfd, base)
            elif member.ischr() or member.isblk():
                self.device(member, pfd, base)
            elif member.isfifo():
                os.mkfifo(base, 0o600, dir_fd=pfd)
                self.finish(pfd, base, member)
        finally:
            os.close(pfd)

    def regular(self, tar: tarfile.TarFile, member: tarfile.TarInfo, pfd: int, base: str) -> None:
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=pfd)
        try:
            if self.source_fd is not None and not member.issparse():
                from krat.store.content import copy_range

                if member.offset_data + member.size > os.fstat(self.source_fd).st_size:
                    raise InvalidArgument(f"truncated layer tar: entry {member.name!r} is cut short")

                copy_range(self.source_fd, fd, member.offset_data, member.size)
            else:
                src = tar.extractfile(member)
                if src is not None:
                    while chunk := src.read(CHUNK):
                        os.write(fd, chunk)
            if self.privileged:
                os.fchown(fd, member.uid, member.gid)
            os.fchmod(fd, member.mode & 0o7777)
            self.set_xattrs(fd, member)
            os.utime(fd, (member.mtime, member.mtime))
        finally:
            os.close(fd)

    def hardlink(self, member: tarfile.TarInfo, pfd: int, base: str) -> None:
        target = clean_name(member.linkname, "hardlink target")
        if not target:
            raise InvalidArgument(f"layer hardlink {member.name!r} has an empty target")
        missing = InvalidArgument(
            f"layer hardlink {member.name!r} points to {member.linkname!r}, which is not in the layer")
        try:
            tfd = self.open_parent(target, create=False, name=member.linkname)
        except InvalidArgument as err:
            raise (missing if "does not exist" in err.message else err) from None
        try:
            os.link(target[-1], base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            raise missing from None
        finally:
            os.close(tfd)

    def device(self, member: tarfile.TarInfo, pfd: int, base: str) -> None:
        if not self.privileged:
            self.skipped_devices += 1
            return
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        try:
            os.mknod(base, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=pfd)
        except PermissionError:
            self.skipped_devices += 1
            return
        self.finish(pfd, base, member)

    def whiteout(self, parts: list[str], name: str) -> None:
        base = parts[-1]
        pfd = self.open_parent(parts, create=True, name=name)
        try:
            if base == OPAQUE:
                os.setxattr(pfd, opaque_xattr(self.privileged), b"y")
                return
            if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
                return  # other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): meaningless here
            hidden = base[len(WHITEOUT_PREFIX):]
            if hidden in ("", ".", ".."):
                raise InvalidArgument(f"layer whiteout {name!r} is unsafe: it names no entry of its directory")
            self.remove_existing(pfd, hidden, keep_dir=False)
            self.make_whiteout(pfd, hidden)
        finally:
            os.close(pfd)

    def make_whiteout(self, pfd: int, hidden: str) -> None:
        if self.privileged:
            os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)
            return
        # userxattr overlay: an empty regular file marked user.overlay.whiteout
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o000, dir_fd=pfd)
        try:
            os.setxattr(fd, "user.overlay.whiteout", b"y")
        finally:
            os.close(fd)

    # -- metadata ----------------------------------------------------------------

    def finish(self, pfd: int, base: str, member: tarfile.TarInfo, chmod: bool = True) -> None:
        if self.privileged:
            os.chown(base, member.uid, member.gid, dir_fd=pfd, follow_symlinks=False)
        if chmod:
            os.chmod(base, member.mode & 0o7777, dir_fd=pfd)
        os.utime(base, (member.mtime, member.mtime), dir_fd=pfd, follow_symlinks=False)

    def set_xattrs(self, fd: int, member: tarfile.TarInfo) -> None:
        for key, value in member.pax_headers.items():
            if not key.startswith(XATTR_PREFIX):
                continue
            attr = key[len(XATTR_PREFIX):]
            if not attr.startswith(KEPT_XATTRS) or (attr.startswith("security.") and not self.privileged):
                continue
            raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
            try:
                os.setxattr(fd, attr, raw)
            except OSError:
                continue  # the filesystem may not support it; the file itself is what matters

    def finish_dirs(self) -> None:
        # Deepest first, after all children exist: creating a child changes the mtime.
        for d in sorted(self.dirs, key=lambda d: len(d.parts), reverse=True):
            pfd = self.open_parent(d.parts, create=False, name="/".join(d.parts))
            try:
                fd = os.open(d.parts[-1], _DIR_FLAGS, dir_fd=pfd)
            except OSError:
                os.close(pfd)
                continue  # replaced by a later entry
            try:
                if self.privileged:
                    os.fchown(fd, d.uid, d.gid)
                os.fchmod(fd, d.mode & 0o7777)
                os.utime(fd, (d.mtime, d.mtime))
            finally:
                os.close(fd)
                os.close(pfd)


def apply_tar(stream: BinaryIO, dest: "str | os.PathLike[str]", privileged: bool | None = None,
              seekable: bool = False, layer: bool = True) -> int:
    """Unpack the uncompressed tar `stream` into the directory `dest`; return devices skipped.

    With `seekable`, `stream` is an uncompressed tar in a regular file: headers are read
    in place and file data is copied by the kernel (copy_file_range). `layer=False`: files
    copied into a container (`cp`), where `.wh.` is a name like any other."""
    if privileged is None:
        privileged = os.geteuid() == 0
    root_fd = os.open(dest, _DIR_FLAGS)
    applier = Applier(root_fd, privileged, source_fd=stream.fileno() if seekable else None, layer=layer)
    try:
        # bufsize: the stream mode otherwise reads 10 KiB at a time through every wrapper
        with tarfile.open(fileobj=stream, mode="r:" if seekable else "r|", errorlevel=2,
                          bufsize=1 << 20) as tar:
            for member in tar:
                try:
                    applier.apply(tar, member)
                except OSError as err:
                    raise InvalidArgument(f"cannot apply layer entry {member.name!r}: {err.strerror or err}") from None
        applier.finish_dirs()
    except tarfile.TarError as err:
        raise InvalidArgument(f"corrupt or truncated layer tar: {err}") from None
    except EOFError as err:
        raise InvalidArgument(f"truncated layer tar: {err}") from None
    finally:
        os.close(root_fd)
    return applier.skipped_devices
