"""The build context: a directory, a tar stream or `-`, filtered by .dockerignore.

A context is a directory on disk (a tar stream is unpacked safely into a private
temporary directory first). COPY/ADD sources are resolved against it with Docker's
rules: wildcards (`*`, `?`, `[...]`) per path element, no escaping the context,
ignored files invisible. Their content digest covers what ends up in the image --
path, type, mode, uid, gid, symlink target and file bytes -- but not mtimes, so a
touched but unchanged file keeps its cache hit.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import stat
from dataclasses import dataclass, field
from pathlib import Path

from krat.build.dockerignore import IgnoreMatcher, read_patterns
from krat.errors import InvalidArgument, NotFound

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Entry:
    """One context file selected by a COPY/ADD source, and where it goes."""

    path: str       # relative to the context root, slash-separated
    rel: str        # relative to the source it was selected by ("" for the source itself)
    source: str     # the COPY source pattern that selected it


@dataclass
class Context:
    root: Path
    matcher: IgnoreMatcher
    _digests: dict[str, str] = field(default_factory=dict)
    known: dict[str, tuple[str, str]] = field(default_factory=dict)   # path -> (stat signature, digest)
    learned: dict[str, tuple[str, str]] = field(default_factory=dict)  # new entries to remember

    @classmethod
    def from_directory(cls, root: Path, ignore_file: Path | None = None) -> "Context":
        root = Path(root).resolve()
        if not root.is_dir():
            raise NotFound(f"build context {root} is not a directory")
        ignore = ignore_file if ignore_file is not None else root / ".dockerignore"
        patterns = read_patterns(ignore.read_text()) if ignore.is_file() else []
        return cls(root, IgnoreMatcher(patterns))

    # -- selecting ----------------------------------------------------------

    def clean(self, src: str, where: str) -> str:
        """A source as a context-relative path; leaving the context is an error."""
        joined = posixpath.normpath(posixpath.join("/", src))
        raw = posixpath.normpath(src) if not src.startswith("/") else joined
        if raw == ".." or raw.startswith("../"):
            raise InvalidArgument(f"{where}: forbidden path outside the build context: {src}")
        return joined.lstrip("/")

    def visible(self, rel: str) -> bool:
        return rel == "" or not self.matcher.excluded(rel)

    def _inside(self, path: Path, src: str, where: str) -> None:
        real = os.path.realpath(path)
        root = str(self.root)
        if real != root and not real.startswith(root + os.sep):
            raise InvalidArgument(f"{where}: forbidden path outside the build context: {src}")

    def select(self, src: str, where: str) -> list[Entry]:
        """Every context path one COPY/ADD source names (a file, a directory's tree, a wildcard)."""
        rel = self.clean(src, where)
        matches = self._glob(rel) if _has_magic(rel) else [rel]
        out: list[Entry] = []
        for match in matches:
            path = self.root / match if match else self.root
            if not os.path.lexists(path) or not self.visible(match):
                continue
            if match and os.path.dirname(match):
                self._inside(path.parent, src, where)
            if path.is_dir() and not path.is_symlink():
                self._inside(path, src, where)
                out.append(Entry(match, "", src))
                out.extend(Entry(p, p[len(match) + 1:] if match else p, src) for p in self._walk(match))
            else:
                out.append(Entry(match, "", src))
        if not out:
            raise NotFound(f"{where}: no source files were specified or found in the context for {src!r}")
        return out

    def _glob(self, pattern: str) -> list[str]:
        parts = pattern.split("/")
        current = [""]
        for part in parts:
            nxt = []
            for base in current:
                folder = self.root / base if base else self.root
                if not _has_magic(part):
                    cand = posixpath.join(base, part) if base else part
                    if os.path.lexists(self.root / cand):
                        nxt.append(cand)
                    continue
                try:
                    names = sorted(os.listdir(folder))
                except (NotADirectoryError, FileNotFoundError):
                    continue
                nxt.extend(posixpath.join(base, n) if base else n for n in names if fnmatch.fnmatchcase(n, part))
            current = nxt
        return [c for c in current if self.visible(c)]

    def _walk(self, top: str) -> list[str]:
        """Context-relative paths under `top`, sorted, honouring .dockerignore."""
        out: list[str] = []
        start = self.root / top if top else self.root
        for dirpath, dirnames, filenames in os.walk(start):
            rel_dir = os.path.relpath(dirpath, self.root)
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
            keep = []
            for name in sorted(dirnames):
                rel = posixpath.join(rel_dir, name) if rel_dir else name
                if os.path.islink(os.path.join(dirpath, name)):
                    if self.visible(rel):
                        out.append(rel)
                    continue
                if self.visible(rel):
                    out.append(rel)
                    keep.append(name)
                elif self.matcher.may_include_below(rel):
                    keep.append(name)
            dirnames[:] = keep
            for name in sorted(filenames):
                rel = posixpath.join(rel_dir, name) if rel_dir else name
                if self.visible(rel):
                    out.append(rel)
        return _with_parents(sorted(out), top)

    # -- digests --------------------------------------------------------------

    def file_digest(self, rel: str) -> str:
        """Digest of one context path: type, mode, owner, and content or link target."""
        cached = self._digests.get(rel)
        if cached is not None:
            return cached
        path = self.root / rel if rel else self.root
        st = os.lstat(path)
        signature = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_mode}:{st.st_uid}:{st.st_gid}"
        remembered = self.known.get(str(path))
        if remembered is not None and remembered[0] == signature:
            self._digests[rel] = remembered[1]
            return remembered[1]
        h = hashlib.sha256(f"{stat.S_IFMT(st.st_mode)}:{stat.S_IMODE(st.st_mode):o}:{st.st_uid}:{st.st_gid}\0".encode())
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(path).encode(errors="surrogateescape"))
        elif stat.S_ISREG(st.st_mode):
            with open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
        digest = "sha256:" + h.hexdigest()
        self._digests[rel] = digest
        if stat.S_ISREG(st.st_mode):
            self.learned[str(path)] = (signature, digest)
        return digest

    def manifest(self, entries: list[Entry]) -> dict[str, str]:
        """{context path: digest} for what a COPY/ADD reads (what --explain compares)."""
        return {e.path or ".": self.file_digest(e.path) for e in entries}


def manifest_digest(manifest: dict[str, str]) -> str:
    h = hashlib.sha256()
    for path in sorted(manifest):
        h.update(f"{path}\0{manifest[path]}\n".encode(errors="surrogateescape"))
    return "sha256:" + h.hexdigest()


def _has_magic(path: str) -> bool:
    return any(c in path for c in "*?[")


def _with_parents(paths: list[str], top: str) -> list[str]:
    """Re-included files under an excluded directory still need their directories."""
    have = set(paths)
    extra = set()
    for p in paths:
        parent = posixpath.dirname(p)
        while parent and parent != top and parent not in have and parent not in extra:
            if top and not parent.startswith(top + "/"):
                break
            extra.add(parent)
            parent = posixpath.dirname(parent)
    return sorted(have | extra)
