"""Pruning the build cache: its rows, and the layers and blobs that only it kept alive."""

from __future__ import annotations

import shutil
import time

from krat.build.imageconfig import parse_duration
from krat.errors import InvalidArgument


def until_filter(filters: list[str]) -> float | None:
    cutoff = None
    for item in filters:
        key, _, value = item.partition("=")
        if key != "until":
            raise InvalidArgument(f"invalid filter {item!r}: only until=DURATION is supported")
        cutoff = time.time() - parse_duration(value, "until") / 1e9
    return cutoff


def prune_cache(paths, older_than: float | None, mounts: bool) -> tuple[int, int]:
    """(entries removed, bytes reclaimed)."""
    from pathlib import Path

    from krat.db import build_cache, images as q, open_database
    from krat.engine.images import ImageService

    db = open_database(paths.db)
    svc = ImageService(paths, db)
    reclaimed = 0
    with db.transaction():
        records = build_cache.all_records(db, older_than)
        if older_than is None:
            build_cache.forget_file_digests(db)
        build_cache.delete(db, [r.key for r in records])
        keep = {r.result.get("diff_id") for r in build_cache.all_records(db)}
        for diff_id in {r.result.get("diff_id") for r in records} - keep - {None}:
            if q.layer_in_use(db, diff_id) or q.blob_in_use(db, diff_id):
                continue
            reclaimed += svc.layers.size(diff_id)
            svc.layers.remove(diff_id)
            if svc.content.has(diff_id):
                reclaimed += svc.content.size(diff_id)
                svc.content.delete(diff_id)
    if mounts:
        folder = Path(paths.root, "build-cache-mounts")
        if folder.is_dir():
            reclaimed += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
            shutil.rmtree(folder, ignore_errors=True)
    return len(records), reclaimed
