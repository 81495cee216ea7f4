"""A container's filesystem from outside: diff, export, cp (both ways), commit.

Works on the overlay: the upper directory holds the container's changes; the merged
root (mounted while the container runs, or for the duration of the call when it does
not) is what the container sees. Paths given by the user are resolved inside the root,
never through a symlink that points out of it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator

from krat.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from krat.engine.containers import Container, ContainerService


@contextlib.contextmanager
def mounted_root(svc: "ContainerService", c: "Container") -> Iterator[str]:
    """The merged root: mounted already (running), else mounted for the block."""
    from krat.engine.images import ImageService
    from krat.store.snapshots import is_mounted, mount_overlay, unmount

    rootfs = svc.rootfs(c.id)
    if is_mounted(rootfs):
        yield rootfs
        return
    image = ImageService(svc.paths, svc.db).get(c.row.image_id)
    storage = svc.storage_dir(c.id)
    os.makedirs(rootfs, exist_ok=True)
    mount_overlay(image.layer_dirs, rootfs, os.path.join(storage, "diff"), os.path.join(storage, "work"))
    try:
        yield rootfs
    finally:
        if not is_running(svc, c):
            unmount(rootfs)


def is_running(svc: "ContainerService", c: "Container") -> bool:
    return svc.refresh(c).row.status in ("running", "paused", "restarting")


# --- diff ----------------------------------------------------------------------------------

def changes(upper: str, in_lower) -> list[tuple[str, str]]:
    """Docker's `diff`: (kind, path), A added, C changed, D deleted, sorted by path (pure but
    for reading `upper`). A whiteout (0/0 character device) is a deletion; `in_lower(path)`
    tells a change from an addition."""
    out: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(upper):
        rel = os.path.relpath(dirpath, upper)
        base = "" if rel == "." else "/" + rel
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            path = f"{base}/{name}"
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                out.append(("D", path))
            else:
                out.append(("C" if in_lower(path) else "A", path))
    return sorted(out, key=lambda kv: kv[1])


def diff(svc: "ContainerService", c: "Container") -> list[tuple[str, str]]:
    from krat.engine.images import ImageService

    image = ImageService(svc.paths, svc.db).get(c.row.image_id)
    lowers = [str(p) for p in image.layer_dirs]
    upper = os.path.join(svc.storage_dir(c.id), "diff")
    found = changes(upper, lambda path: any(os.path.lexists(l + path) for l in lowers))
    return without_engine_files(found)


def without_engine_files(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`changes` less the engine's mount points, and less a directory the container only
    has in its layer because one of them was made in it (an image without /etc/hosts: /etc
    is copied up, or made, for its mount point). Docker makes those in a layer of its own and
    shows neither. A directory that also holds a change of the container's own stays."""
    kept = [(k, p) for k, p in found if p not in ENGINE_FILES]
    engine_dirs = {os.path.dirname(p) for _, p in found if p in ENGINE_FILES}
    return [(k, p) for k, p in kept
            if not (k in ("A", "C") and p in engine_dirs and not any(q.startswith(p + "/") for _, q in kept))]


# Mount points the engine binds over (Docker leaves them out of `diff` too).
ENGINE_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/sbin/krat-init")


# --- cp ------------------------------------------------------------------------------------

def inside(root: str, path: str, follow_last: bool = True) -> str:
    """The host path of the container's `path`, its symlinks resolved inside the root; the
    last one kept as it is unless follow_last (Docker's `cp` copies a link, `-L` its target)."""
    from krat.engine.bundle import resolve_in_root

    if not path.startswith("/"):
        path = "/" + path
    head, _, last = path.rstrip("/").rpartition("/")
    if follow_last or path.endswith("/") or last in ("", ".", ".."):
        return resolve_in_root(root, path)
    return os.path.join(resolve_in_root(root, head or "/"), last)


def copy_out(svc: "ContainerService", c: "Container", src: str, out: BinaryIO, follow_link: bool = False) -> None:
    """A tar stream of `src` in the container (Docker's `cp CONTAINER:SRC -`)."""
    with mounted_root(svc, c) as root:
        host = inside(root, src, follow_link)
        if not os.path.lexists(host):
            raise NotFound(f"no such file or directory in container {c.name}: {src}")
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.add(host, arcname=os.path.basename(src.rstrip("/")) or ".", recursive=True)


def placement(src: str, src_is_dir: bool, dest: str, dest_exists: bool, dest_is_dir: bool) -> str:
    """Where `cp SRC DEST` puts SRC, by Docker's rules (pure): "into" DEST (a directory)
    under SRC's name, its "contents" into DEST (SRC a directory named with a final `/.`), or
    "as" DEST itself (a new name, or a file replaced)."""
    if dest_is_dir:
        return "contents" if src_is_dir and src.endswith("/.") else "into"
    if dest_exists:
        if src_is_dir:
            raise InvalidArgument(f"cannot copy a directory to a file: {dest}")
        return "as"
    if dest.endswith("/") and not src_is_dir:
        raise InvalidArgument(f"no such directory: {dest}")
    return "as"


def copy_out_to(svc: "ContainerService", c: "Container", src: str, dest: str, follow_link: bool = False) -> None:
    """`cp CONTAINER:SRC DEST`: a file to a file or into a directory; a directory recursively
    (reading the container's tree without following its symlinks)."""
    import shutil

    with mounted_root(svc, c) as root:
        host = inside(root, src, follow_link)
        if not os.path.lexists(host):
            raise NotFound(f"no such file or directory in container {c.name}: {src}")
        is_dir = os.path.isdir(host) and not os.path.islink(host)
        how = placement(src, is_dir, dest, os.path.lexists(dest), os.path.isdir(dest))
        target = os.path.join(dest, os.path.basename(host)) if how == "into" else dest
        if is_dir:
            shutil.copytree(host, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(host, target, follow_symlinks=False)


def copy_in(svc: "ContainerService", c: "Container", src: str | None, stream: BinaryIO | None, dest: str,
            archive: bool = False) -> None:
    """`cp SRC CONTAINER:DEST` (or a tar stream from `-`). What is written goes through the
    layer unpacker (store.apply), which never follows a symlink inside the container: one
    the container planted where a copied file lands is replaced, not written through."""
    from krat.store.apply import apply_tar

    with mounted_root(svc, c) as root:
        target = inside(root, dest)
        if stream is not None:
            if not os.path.isdir(target):
                raise InvalidArgument(f"destination {dest} in container {c.name} must be a directory for a tar stream")
            apply_tar(stream, Path(target), layer=False)
            return
        assert src is not None
        path = Path(src)
        if not os.path.lexists(path):
            raise NotFound(f"no such file or directory: {src}")
        how = placement(src, path.is_dir(), dest, os.path.lexists(target), os.path.isdir(target))
        where, name = (target, path.name) if how in ("into", "contents") else os.path.split(target)
        if not os.path.isdir(where):
            raise NotFound(f"no such directory in container {c.name}: {os.path.dirname(dest.rstrip('/')) or '/'}")
        import tempfile

        os.makedirs(svc.paths.tmp, exist_ok=True)
        with tempfile.TemporaryFile(dir=svc.paths.tmp) as packed:
            _tar(path, "." if how == "contents" else name, packed, keep_owner=archive)
            packed.seek(0)
            apply_tar(packed, Path(where), layer=False)


def _tar(src: Path, name: str, out: BinaryIO, keep_owner: bool) -> None:
    """src as a tar named `name`: owned by root, as Docker's cp gives what it copies in to
    the container's root user, or (-a, keep_owner) by its owners on the host."""
    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(str(src), arcname=name, recursive=True, filter=None if keep_owner else owned_by_root)


# --- export and commit ----------------------------------------------------------------------

def export(svc: "ContainerService", c: "Container", out: BinaryIO) -> None:
    with mounted_root(svc, c) as root:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(os.listdir(root)):
                tar.add(os.path.join(root, name), arcname=name, recursive=True)


def commit(svc: "ContainerService", c: "Container", tags: list[str], changes_: list[str],
           author: str = "", message: str = "", pause: bool = True):
    """A new image: the container's image plus one layer made of its upper directory."""
    import tempfile

    from krat.engine.changes import apply_changes
    from krat.engine.images import ImageService, now_rfc3339
    from krat.engine.ocigen import container_env
    from krat.store.diff import diff as layer_diff

    images = ImageService(svc.paths, svc.db)
    base = images.get(c.row.image_id)
    config = dict(base.config)
    spec = c.spec
    if spec.env:
        from krat.engine.ocigen import merge_env

        config["Env"] = merge_env(list(config.get("Env") or []), list(spec.env))
    if spec.command:
        config["Cmd"] = list(spec.command)
    if spec.entrypoint is not None:
        config["Entrypoint"] = list(spec.entrypoint) or None
    if spec.working_dir:
        config["WorkingDir"] = spec.working_dir
    if spec.user:
        config["User"] = spec.user
    if spec.labels:
        config["Labels"] = {**(config.get("Labels") or {}), **dict(spec.labels)}
    config = apply_changes(config, changes_) if changes_ else config
    paused = False
    if pause and svc.refresh(c).row.status == "running":
        svc.pause(c.id)
        paused = True
    try:
        os.makedirs(svc.paths.tmp, exist_ok=True)
        with tempfile.TemporaryFile(dir=svc.paths.tmp) as layer:
            layer_diff(os.path.join(svc.storage_dir(c.id), "diff"), layer,
                       leave_out=[path.lstrip("/") for path in ENGINE_FILES])   # as `diff` shows it
            layer.seek(0)
            doc = {"config": config, "created": now_rfc3339(), "author": author,
                   "architecture": base.architecture, "os": base.os}
            history = [{"created": doc["created"], "created_by": f"krat commit {c.name}",
                        "comment": message, **({"author": author} if author else {})}]
            return images.create_image(doc, [layer], tags, history, base=base)
    finally:
        if paused:
            svc.unpause(c.id)
