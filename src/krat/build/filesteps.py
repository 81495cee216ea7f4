"""COPY, ADD and WORKDIR: steps that write files into a new layer.

Each returns a Change: what the cache key needs (canonical text, used args,
source digests) and an `apply(upper)` that writes the files; the builder calls
apply only on a cache miss.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tarfile
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
    heredocs = {h.name: h for h in inst.heredocs}
    picked: list[src_mod.Picked] = []
    contents: list[tuple[str, bytes]] = []
    sources: dict[str, str] = {}
    urls: list[str] = []
    for raw in inst.args[:-1]:
        doc = parse_heredoc_word(raw)
        if doc is not None and doc.name in heredocs:
            body = heredocs[doc.name].text
            if heredocs[doc.name].expand:
                from krat.build.expand import Lexer

                result = Lexer(run.escape, skip_quotes=True).process(body, run.scope)
                used |= result.matched
                body = result.result
            data = body.encode()
            contents.append((doc.name, data))
            sources[f"<<{doc.name}"] = "sha256:" + hashlib.sha256(data).hexdigest()
            continue
        src = run.word(raw, used)
        if is_add and src.startswith(("http://", "https://")):
            urls.append(src)
            continue
        if from_source is not None:
            picked += src_mod.from_view(LayerView(from_source.layers), src, where)
        else:
            got = src_mod.from_context(ctx, src, where)
            picked += got
            for p in got:
                for rel, real in p.items:
                    path = os.path.relpath(real, ctx.root).replace(os.sep, "/")
                    sources[path] = ctx.file_digest("" if path == "." else path)
    if from_source is not None:
        sources[f"--from={from_source.label}"] = from_source.identity
    downloads = [_download(u, where) for u in urls]
    checksum = run.word(flags.get("checksum", ""), used)
    if checksum:
        for url, data in downloads:
            got = "sha256:" + hashlib.sha256(data).hexdigest()
            if got != checksum:
                raise InvalidArgument(f"{where}: ADD {url}: checksum mismatch: got {got}, want {checksum}")
    for url, data in downloads:
        sources[url] = "sha256:" + hashlib.sha256(data).hexdigest()
    count = len(picked) + len(contents) + len(downloads)
    view = LayerView([layer.dir for layer in run.layers])
    dest_abs_guess = posixpath.normpath(posixpath.join(run.state.workdir, dest_raw))
    dest, dest_dir = src_mod.landing(dest_raw, run.state.workdir, count, view.is_dir(dest_abs_guess), where)
    lower = [layer.dir for layer in run.layers]
    keep_owner = from_source is not None
    text = " ".join(inst.args[:-1])
    flag_text = " ".join(f"--{k}={v}" for k, v in sorted(flags.items()) if k not in ("link",))
    created_by = f"{inst.keyword} {flag_text + ' ' if flag_text else ''}{text} {dest_raw}"

    def apply(upper: Path) -> None:
        chown = parse_chown(chown_text, view, where) if chown_text else None
        writer = Writer(upper, lower, Ownership(chown, chmod, keep_owner))
        for p in picked:
            top = p.items[0][1]
            if is_add and not p.is_dir and flags.get("unpack") != "false" and _is_archive(top):
                _extract(writer, top, dest, where)
                continue
            for image_path, real, is_top in src_mod.plan_copy([p], dest, dest_dir):
                if is_top:
                    writer.mkdir(image_path, os.lstat(real) if real is not None else None)
                else:
                    writer.copy_entry(image_path, real)
        for name, data in contents:
            writer.data(posixpath.join(dest, name) if dest_dir else dest, data, 0o644)
        for url, data in downloads:
            name = posixpath.basename(url.split("?")[0].rstrip("/")) or "index.html"
            writer.data(posixpath.join(dest, name) if dest_dir else dest, data, 0o600)

    canonical = " ".join(inst.original.split())  # args it used and source digests are keyed apart
    return Change(created_by, canonical, used, sources, apply)


def _is_archive(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(512)
    if any(head.startswith(m) for m in _TAR_MAGIC):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def _extract(writer: Writer, archive: Path, dest: str, where: str) -> None:
    """ADD's auto-extraction: entries land under dest; none may leave it."""
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


def _extract_member(writer: Writer, tar: tarfile.TarFile, member: tarfile.TarInfo, target: str) -> None:
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
