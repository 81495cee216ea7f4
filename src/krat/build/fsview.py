"""A read-only view of an image's filesystem through its layer directories.

COPY and ADD write straight into a step's new upper directory instead of mounting
an overlay; they only need to look at what the layers below hold (does the
destination exist, is it a directory, which symlinks lie on the way, /etc/passwd
for --chown names) and, for `COPY --from`, to read another stage's files. Both
whiteout styles are understood: OCI's `.wh.` files and overlayfs's 0/0 character
devices and `trusted.overlay.opaque` directories.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path

from krat.errors import InvalidArgument

WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
MAX_LINKS = 40


def _is_overlay_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(directory: Path) -> bool:
    if (directory / WH_OPAQUE).exists():
        return True
    try:
        return os.getxattr(directory, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


class LayerView:
    def __init__(self, layers: list[Path]) -> None:
        self.layers = [Path(p) for p in layers]  # bottom first

    def _find(self, rel: str) -> Path | None:
        parts = [p for p in rel.split("/") if p]
        if not parts:
            return self.layers[-1] if self.layers else None
        for layer in reversed(self.layers):
            cur, opaque = layer, False
            for i, part in enumerate(parts):
                if os.path.lexists(cur / (WH_PREFIX + part)):
                    return None
                nxt = cur / part
                try:
                    st = os.lstat(nxt)
                except FileNotFoundError:
                    if cur != layer and _is_opaque(cur):
                        opaque = True
                    break
                if _is_overlay_whiteout(st):
                    return None
                if i == len(parts) - 1:
                    return nxt
                if not stat.S_ISDIR(st.st_mode):
                    return None  # a file or symlink in an upper layer hides the whole subtree
                cur = nxt
            if opaque:
                return None
        return None

    def lstat(self, rel: str) -> os.stat_result | None:
        found = self._find(rel)
        return os.lstat(found) if found is not None else None

    def real(self, rel: str) -> Path | None:
        """The file in some layer dir that holds this merged path (no symlinks followed)."""
        return self._find(rel)

    def resolve(self, path: str, follow_last: bool = True) -> str:
        """Resolve symlinks in an absolute path inside the image; never leaves its root."""
        todo = [p for p in path.split("/") if p]
        done: list[str] = []
        links = 0
        while todo:
            part = todo.pop(0)
            if part == ".":
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/".join(done + [part])
            st = self.lstat(candidate)
            if st is not None and stat.S_ISLNK(st.st_mode) and (todo or follow_last):
                links += 1
                if links > MAX_LINKS:
                    raise InvalidArgument(f"too many levels of symbolic links in {path}")
                target = os.readlink(self._find(candidate))
                if target.startswith("/"):
                    done = []
                todo = [p for p in target.split("/") if p] + todo
                continue
            done.append(part)
        return "/" + "/".join(done)

    def is_dir(self, path: str) -> bool:
        st = self.lstat(self.resolve(path).lstrip("/"))
        return st is not None and stat.S_ISDIR(st.st_mode)

    def exists(self, path: str) -> bool:
        return self.lstat(path.lstrip("/")) is not None

    def listdir(self, rel: str) -> list[str]:
        names: set[str] = set()
        hidden: set[str] = set()
        parts = [p for p in rel.split("/") if p]
        for layer in reversed(self.layers):
            directory = layer.joinpath(*parts) if parts else layer
            try:
                st = os.lstat(directory)
            except FileNotFoundError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                break
            for name in os.listdir(directory):
                if name == WH_OPAQUE:
                    continue
                if name.startswith(WH_PREFIX):
                    hidden.add(name[len(WH_PREFIX):])
                    continue
                if name in hidden:
                    continue
                if _is_overlay_whiteout(os.lstat(directory / name)):
                    hidden.add(name)
                    continue
                names.add(name)
            if parts and _is_opaque(directory):
                break
        return sorted(names)

    def read_text(self, path: str) -> str | None:
        found = self._find(self.resolve(path).lstrip("/"))
        if found is None or not found.is_file():
            return None
        return found.read_text(errors="replace")

    def walk(self, rel: str) -> list[str]:
        """Every merged path below `rel` (relative to it), parents before children."""
        out: list[str] = []
        stack = [""]
        while stack:
            sub = stack.pop()
            base = posixpath.join(rel, sub) if sub else rel
            for name in reversed(self.listdir(base)):
                child = posixpath.join(sub, name) if sub else name
                out.append(child)
                st = self.lstat(posixpath.join(rel, child))
                if st is not None and stat.S_ISDIR(st.st_mode):
                    stack.append(child)
        return sorted(out)
