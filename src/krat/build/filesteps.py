"""COPY, ADD and WORKDIR: steps that write files into a new layer.

Each returns a Change: what the cache key needs (canonical text, used args,
source digests) and an `apply(upper)` that writes the files; the builder calls
apply only on a cache miss.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from krat.build import sources as src_mod
from krat.build.copy import Ownership, Writer, parse_chmod, parse_chown
from krat.build.dockerfile import Instruction, parse_heredoc_word
from krat.build.fsview import LayerView
from krat.build.imageconfig import normalize_workdir
from krat.build.state import StageRun
from krat.errors import InvalidArgument

_TAR_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


@dataclass
class Change:
    created_by: str
    canonical: str
    used: set[str] = field(default_factory=set)
    sources: dict[str, str] = field(default_factory=dict)
    apply: Callable[[Path], None] | None = None


@dataclass
class FromSource:
    """Where `COPY --from` reads: a built stage or an image (its layers and cache identity)."""

    label: str
    identity: str
    layers: list[Path]


def _flags(inst: Instruction, allowed: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for flag in inst.flags:
        name, eq, value = flag[2:].partition("=")
        name = name.lower()
        if name not in allowed:
            raise InvalidArgument(f"unknown flag: --{name}")
        out[name] = value if eq else "true"
    return out


def workdir(run: StageRun, inst: Instruction) -> Change:
    if len(inst.args) != 1:
        raise InvalidArgument("WORKDIR requires exactly one argument")
    used: set[str] = set()
    path = normalize_workdir(run.state.workdir, run.word(inst.args[0], used))
    run.state.config["WorkingDir"] = path
    view = LayerView([layer.dir for layer in run.layers])
    if path == "/" or view.is_dir(path):
        return Change(f"WORKDIR {path}", f"WORKDIR {path}", used)
    lower = [layer.dir for layer in run.layers]
    owner = run.state.config.get("User") or ""

    def apply(upper: Path) -> None:
        chown = parse_chown(owner, view, "WORKDIR") if owner else None
        writer = Writer(upper, lower, Ownership(chown=chown))
        parts = [p for p in path.split("/") if p]
        for i in range(len(parts)):
            writer.mkdir("/" + "/".join(parts[: i + 1]), None)

    return Change(f"WORKDIR {path}", f"WORKDIR {path} user={owner}", used, {}, apply)


@dataclass
class _Gathered:
    """Everything one COPY/ADD reads, before anything is written."""

    picked: list[src_mod.Picked] = field(default_factory=list)
    contents: list[tuple[str, bytes]] = field(default_factory=list)   # heredocs: (name, bytes)
    downloads: list[tuple[str, bytes]] = field(default_factory=list)  # ADD URLs: (url, bytes)
    sources: dict[str, str] = field(default_factory=dict)              # what the cache key hashes

    @property
    def count(self) -> int:
        return len(self.picked) + len(self.contents) + len(self.downloads)


def _heredoc_bytes(run: StageRun, doc, used: set[str]) -> bytes:
    body = doc.text
    if doc.expand:
        from krat.build.expand import Lexer

        result = Lexer(run.escape, skip_quotes=True).process(body, run.scope)
        used |= result.matched
        body = result.result
    return body.encode()


def _gather(run: StageRun, inst: Instruction, where: str, ctx, from_source: FromSource | None,
            is_add: bool, used: set[str]) -> _Gathered:
    got = _Gathered()
    heredocs = {h.name: h for h in inst.heredocs}
    for raw in inst.args[:-1]:
        doc = parse_heredoc_word(raw)
        if doc is not None and doc.name in heredocs:
            data = _heredoc_bytes(run, heredocs[doc.name], used)
            got.contents.append((doc.name, data))
            got.sources[f"<<{doc.name}"] = "sha256:" + hashlib.sha256(data).hexdigest()
            continue
        src = run.word(raw, used)
        if is_add and src.startswith(("http://", "https://")):
            url, data = _download(src, where)
            got.downloads.append((url, data))
            got.sources[url] = "sha256:" + hashlib.sha256(data).hexdigest()
        elif from_source is not None:
            got.picked += src_mod.from_view(LayerView(from_source.layers), src, where)
        else:
            picked = src_mod.from_context(ctx, src, where)
            got.picked += picked
            for p in picked:
                for _rel, real in p.items:
                    path = os.path.relpath(real, ctx.root).replace(os.sep, "/")
                    got.sources[path] = ctx.file_digest("" if path == "." else path)
    if from_source is not None:
        got.sources[f"--from={from_source.label}"] = from_source.identity
    return got


def _check_checksum(got: _Gathered, checksum: str, where: str) -> None:
    for url, data in got.downloads:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest != checksum:
            raise InvalidArgument(f"{where}: ADD {url}: checksum mismatch: got {digest}, want {checksum}")


def copy(run: StageRun, inst: Instruction, where: str, ctx, from_source: FromSource | None,
         is_add: bool = False) -> Change:
    allowed = ("chown", "chmod", "link", "checksum", "keep-git-dir", "unpack") if is_add else (
        "from", "chown", "chmod", "link")
    flags = _flags(inst, allowed)
    if len(inst.args) < 2:
        raise InvalidArgument(f"{inst.keyword} requires at least two arguments: source(s) and destination")
    used: set[str] = set()
    chown_text = run.word(flags.get("chown", ""), used)
    chmod = parse_chmod(run.word(flags.get("chmod", ""), used), where)
    dest_raw = run.word(inst.args[-1], used)
    got = _gather(run, inst, where, ctx, from_source, is_add, used)
    if flags.get("checksum"):
        _check_checksum(got, run.word(flags["checksum"], used), where)
    view = LayerView([layer.dir for layer in run.layers])
    guess = posixpath.normpath(posixpath.join(run.state.workdir, dest_raw))
    dest, dest_dir = src_mod.landing(dest_raw, run.state.workdir, got.count, view.is_dir(guess), where)
    lower = [layer.dir for layer in run.layers]
    unpack = is_add and flags.get("unpack") != "false"

    def apply(upper: Path) -> None:
        chown = parse_chown(chown_text, view, where) if chown_text else None
        writer = Writer(upper, lower, Ownership(chown, chmod, from_source is not None))
        _write(writer, got, dest, dest_dir, unpack, where)

    flag_text = " ".join(f"--{k}={v}" for k, v in sorted(flags.items()) if k != "link")
    created_by = f"{inst.keyword} {flag_text + ' ' if flag_text else ''}{' '.join(inst.args[:-1])} {dest_raw}"
    canonical = " ".join(inst.original.split())  # args it used and source digests are keyed apart
    return Change(created_by, canonical, used, got.sources, apply)


def _write(writer: Writer, got: _Gathered, dest: str, dest_dir: bool, unpack: bool, where: str) -> None:
    for p in got.picked:
        top = p.items[0][1]
        if unpack and not p.is_dir and _is_archive(top):
            _extract(writer, top, dest, where)  # ADD's local archives land unpacked
            continue
        for image_path, real, is_top in src_mod.plan_copy([p], dest, dest_dir):
            if is_top:
                writer.mkdir(image_path, os.lstat(real) if real is not None else None)
            else:
                writer.copy_entry(image_path, real)
    for name, data in got.contents:
        writer.data(posixpath.join(dest, name) if dest_dir else dest, data, 0o644)
    for url, data in got.downloads:
        name = posixpath.basename(url.split("?")[0].rstrip("/")) or "index.html"
        writer.data(posixpath.join(dest, name) if dest_dir else dest, data, 0o600)


def _is_archive(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(512)
    if any(head.startswith(m) for m in _TAR_MAGIC):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def _extract(writer: Writer, archive: Path, dest: str, where: str) -> None:
    """ADD's auto-extraction: entries land under dest; none may leave it."""
    import tarfile  # only ADD of an archive pays for it

    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = posixpath.normpath("/" + member.name).lstrip("/")
                if not name or name == ".":
                    continue
                target = posixpath.join(dest, name)
                _extract_member(writer, tar, member, target)
    except tarfile.TarError as err:
        raise InvalidArgument(f"{where}: cannot extract {archive.name}: {err}") from None


def _extract_member(writer: Writer, tar, member, target: str) -> None:
    if member.isdir():
        writer.mkdir(target, None)
        path = writer.target(target)
        os.chmod(path, member.mode & 0o7777)
    elif member.issym():
        writer.symlink(target, member.linkname, None)
    elif member.isfile() or member.islnk():
        source = tar.extractfile(member)
        data = source.read() if source is not None else b""
        writer.data(target, data, member.mode & 0o7777, member.mtime)
    # devices and fifos in an ADDed archive are skipped


def _download(url: str, where: str) -> tuple[str, bytes]:
    import httpx

    try:
        response = httpx.get(url, follow_redirects=True, timeout=60)
    except httpx.HTTPError as err:
        raise InvalidArgument(f"{where}: ADD {url}: {err}") from None
    if response.status_code >= 400:
        raise InvalidArgument(f"{where}: ADD {url}: HTTP {response.status_code}")
    return url, response.content
