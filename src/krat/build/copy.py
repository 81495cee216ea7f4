"""Writing COPY/ADD results into a step's upper directory.

The upper directory becomes the step's layer; the layers below are consulted
through a LayerView so destinations follow the image's symlinks (`/var/run` ->
`/run`) and directories that already exist keep their mode and owner (what an
overlay copy-up would do). Nothing is ever written outside the upper directory.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from krat.build.fsview import LayerView
from krat.errors import InvalidArgument, NotFound


@dataclass(frozen=True)
class Ownership:
    chown: tuple[int, int] | None = None   # --chown
    chmod: int | None = None               # --chmod
    keep_source_owner: bool = False        # COPY --from keeps uid/gid; the context gives 0:0


class Writer:
    def __init__(self, upper: Path, lower: list[Path], owner: Ownership) -> None:
        self.upper = Path(upper)
        self.view = LayerView([*lower, self.upper])
        self.owner = owner
        self.is_root = os.geteuid() == 0

    def _ids(self, st: os.stat_result | None) -> tuple[int, int]:
        if self.owner.chown is not None:
            return self.owner.chown
        if self.owner.keep_source_owner and st is not None:
            return st.st_uid, st.st_gid
        return 0, 0

    def _chown(self, path: Path, ids: tuple[int, int]) -> None:
        if self.is_root:
            os.lchown(path, *ids)

    def parent(self, image_path: str) -> Path:
        """The upper-dir location for image_path's parent, created with copy-up metadata."""
        parent = self.view.resolve(posixpath.dirname(image_path.rstrip("/")) or "/")
        cur = self.upper
        so_far = ""
        for part in [p for p in parent.split("/") if p]:
            so_far = posixpath.join(so_far, part)
            cur = cur / part
            if os.path.lexists(cur):
                if not cur.is_dir() or cur.is_symlink():
                    raise InvalidArgument(f"cannot copy to {image_path}: /{so_far} is not a directory")
                continue
            below = self.view.lstat(so_far)
            if below is not None and not stat.S_ISDIR(below.st_mode):
                raise InvalidArgument(f"cannot copy to {image_path}: /{so_far} is not a directory")
            cur.mkdir()
            if below is not None:
                os.chmod(cur, stat.S_IMODE(below.st_mode))
                self._chown(cur, (below.st_uid, below.st_gid))
            else:
                os.chmod(cur, 0o755)
                self._chown(cur, self._ids(None) if self.owner.chown else (0, 0))
        return cur

    def target(self, image_path: str) -> Path:
        name = posixpath.basename(image_path.rstrip("/"))
        return self.parent(image_path) / name

    def _clear(self, path: Path, keep_dir: bool) -> None:
        if os.path.lexists(path) and not (keep_dir and path.is_dir() and not path.is_symlink()):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()

    def mkdir(self, image_path: str, st: os.stat_result | None) -> None:
        if image_path.rstrip("/") in ("", "/"):
            return
        if self.view.is_dir(image_path):
            path = self.target(self.view.resolve(image_path))
            if os.path.lexists(path):
                return
            below = self.view.lstat(self.view.resolve(image_path).lstrip("/"))
            path.mkdir()
            os.chmod(path, stat.S_IMODE(below.st_mode) if below else 0o755)
            if below is not None:
                self._chown(path, (below.st_uid, below.st_gid))
            return
        path = self.target(image_path)
        self._clear(path, keep_dir=True)
        path.mkdir(exist_ok=True)
        mode = self.owner.chmod if self.owner.chmod is not None else (stat.S_IMODE(st.st_mode) if st else 0o755)
        os.chmod(path, mode)
        self._chown(path, self._ids(st))

    def file(self, image_path: str, source: Path, st: os.stat_result) -> None:
        path = self.target(image_path)
        self._clear(path, keep_dir=False)
        shutil.copyfile(source, path, follow_symlinks=False)
        self._finish(path, st)

    def data(self, image_path: str, content: bytes, mode: int, mtime: float | None = None) -> None:
        path = self.target(image_path)
        self._clear(path, keep_dir=False)
        path.write_bytes(content)
        os.chmod(path, self.owner.chmod if self.owner.chmod is not None else mode)
        self._chown(path, self.owner.chown or (0, 0))
        if mtime is not None:
            os.utime(path, (mtime, mtime))

    def symlink(self, image_path: str, link_target: str, st: os.stat_result | None) -> None:
        path = self.target(image_path)
        self._clear(path, keep_dir=False)
        os.symlink(link_target, path)
        self._chown(path, self._ids(st))

    def _finish(self, path: Path, st: os.stat_result) -> None:
        mode = self.owner.chmod if self.owner.chmod is not None else stat.S_IMODE(st.st_mode)
        self._chown(path, self._ids(st))
        os.chmod(path, mode)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    def copy_entry(self, image_path: str, source: Path) -> None:
        """Copy one filesystem object (not recursing) to image_path."""
        st = os.lstat(source)
        if stat.S_ISDIR(st.st_mode):
            self.mkdir(image_path, st)
        elif stat.S_ISLNK(st.st_mode):
            self.symlink(image_path, os.readlink(source), st)
        elif stat.S_ISREG(st.st_mode):
            self.file(image_path, source, st)
        # sockets, fifos and devices from a context are skipped, as Docker does for sockets


def parse_chmod(value: str, where: str) -> int | None:
    if not value:
        return None
    try:
        mode = int(value, 8)
    except ValueError:
        raise InvalidArgument(f"{where}: invalid --chmod={value}: expected an octal mode such as 0755") from None
    if mode > 0o7777:
        raise InvalidArgument(f"{where}: invalid --chmod={value}: out of range")
    return mode


def parse_chown(value: str, view: LayerView, where: str) -> tuple[int, int] | None:
    """--chown=user[:group] with names looked up in the image's /etc/passwd and /etc/group."""
    if not value:
        return None
    user, _, group = value.partition(":")
    uid, primary = _lookup(view, "/etc/passwd", user, where)
    if group:
        gid, _ = _lookup(view, "/etc/group", group, where)
    else:
        gid = primary if primary is not None else uid
    return uid, gid


def _lookup(view: LayerView, db: str, name: str, where: str) -> tuple[int, int | None]:
    if name.isdigit():
        if db == "/etc/passwd":
            for fields in _entries(view, db):
                if fields[2] == name and len(fields) > 3 and fields[3].isdigit():
                    return int(name), int(fields[3])
        return int(name), None
    for fields in _entries(view, db):
        if fields[0] == name and fields[2].isdigit():
            primary = int(fields[3]) if db == "/etc/passwd" and len(fields) > 3 and fields[3].isdigit() else None
            return int(fields[2]), primary
    kind = "user" if db == "/etc/passwd" else "group"
    raise InvalidArgument(f"{where}: unable to find {kind} {name}: no matching entries in {db} of the image")


def _entries(view: LayerView, db: str) -> list[list[str]]:
    text = view.read_text(db) or ""
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#") and line.count(":") >= 2]


def materialize(view: LayerView, source: str, target: Path) -> Path:
    """A private copy of a path from another stage, for RUN --mount=type=bind,from=."""
    target.mkdir(parents=True)
    writer = Writer(target, [], Ownership(keep_source_owner=True))
    resolved = view.resolve(source).lstrip("/")
    real = view.real(resolved)
    if real is None:
        raise NotFound(f"--mount source {source!r} not found")
    if not real.is_dir():
        dest = target / "file"
        shutil.copy2(real, dest)
        return dest
    for rel in view.walk(resolved):
        writer.copy_entry("/" + rel, view.real(f"{resolved}/{rel}" if resolved else rel))
    return target
