"""Where COPY/ADD sources come from: the context, another stage or an image, a heredoc,
a URL; and where each lands (Docker's destination rules).

Destination rules: a directory source copies its contents; a file goes to `dest`
unless `dest` ends with `/` or is an existing directory (then `dest/<name>`);
several sources need a directory `dest` ending in `/`.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path

from krat.build.context import Context
from krat.build.fsview import LayerView
from krat.errors import InvalidArgument, NotFound


@dataclass(frozen=True)
class Picked:
    """One matched source: a file, or a directory whose contents are copied."""

    name: str                          # basename used when landing in a directory
    is_dir: bool
    items: list[tuple[str, Path]]      # (path relative to the source, file on disk); "" is the source itself


def from_context(ctx: Context, src: str, where: str) -> list[Picked]:
    entries = ctx.select(src, where)
    groups: dict[str, list] = {}
    order: list[str] = []
    for e in entries:
        top = e.path[: len(e.path) - len(e.rel)].rstrip("/") if e.rel else e.path
        if top not in groups:
            groups[top] = []
            order.append(top)
        groups[top].append(e)
    out = []
    for top in order:
        path = ctx.root / top if top else ctx.root
        if path.is_symlink():  # a named symlink is followed, inside the context
            real = Path(os.path.realpath(path))
            if real != ctx.root and ctx.root not in real.parents:
                raise InvalidArgument(f"{where}: forbidden path outside the build context: {src}")
            if real.is_dir():
                target = from_context(ctx, str(real.relative_to(ctx.root)), where)
                out += [Picked(posixpath.basename(top), p.is_dir, p.items) for p in target]
                continue
            path = real
        is_dir = path.is_dir()
        items = [(e.rel, ctx.root / e.path if e.rel else path) for e in groups[top]]
        out.append(Picked(posixpath.basename(top) or "", is_dir, items))
    return out


def from_view(view: LayerView, src: str, where: str) -> list[Picked]:
    path = posixpath.normpath(posixpath.join("/", src))
    matches = _view_glob(view, path) if any(c in path for c in "*?[") else [path]
    out = []
    for match in matches:
        resolved = view.resolve(match).lstrip("/")
        st = view.lstat(resolved)
        if st is None:
            continue
        real = view.real(resolved)
        if stat.S_ISDIR(st.st_mode):
            items = [("", real)] + [(rel, view.real(posixpath.join(resolved, rel)))
                                     for rel in view.walk(resolved)]
            out.append(Picked(posixpath.basename(match), True, items))
        else:
            out.append(Picked(posixpath.basename(match), False, [("", real)]))
    if not out:
        raise NotFound(f"{where}: {src}: no such file or directory in the source image")
    return out


def _view_glob(view: LayerView, pattern: str) -> list[str]:
    current = ["/"]
    for part in [p for p in pattern.split("/") if p]:
        nxt = []
        for base in current:
            if not any(c in part for c in "*?["):
                cand = posixpath.join(base, part)
                if view.exists(view.resolve(cand)):
                    nxt.append(cand)
                continue
            resolved = view.resolve(base).lstrip("/")
            nxt.extend(posixpath.join(base, n) for n in view.listdir(resolved) if fnmatch.fnmatchcase(n, part))
        current = nxt
    return current


def landing(dest: str, workdir: str, picked_count: int, dest_is_dir: bool, where: str) -> tuple[str, bool]:
    """(absolute destination, does it name a directory) for the COPY/ADD destination."""
    as_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
    absolute = posixpath.normpath(posixpath.join(workdir or "/", dest))
    if picked_count > 1 and not (as_dir or dest_is_dir):
        raise InvalidArgument(f"{where}: when using COPY or ADD with more than one source file, "
                              f"the destination must be a directory and end with a /")
    return absolute, as_dir or dest_is_dir


def plan_copy(picked: list[Picked], dest: str, dest_dir: bool) -> list[tuple[str, Path | None, bool]]:
    """[(image path, file on disk, is the top of a copied directory)] in creation order."""
    out: list[tuple[str, Path | None, bool]] = []
    for p in picked:
        if p.is_dir:
            for rel, real in p.items:
                out.append((posixpath.join(dest, rel) if rel else dest, real, rel == ""))
        else:
            target = posixpath.join(dest, p.name) if dest_dir else dest
            out.append((target, p.items[0][1], False))
    return out
