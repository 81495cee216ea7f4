"""Registry bookkeeping rows: blob sources for cross-repository mounts, compressed layer twins."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from krat.db.connection import Database

MAX_MOUNT_SOURCES = 3  # Docker tries a few candidate repositories, newest first


def add_sources(db: "Database", digests: Iterable[str], registry: str, repository: str) -> None:
    now = time.time()
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO registry_blob_sources(digest, registry, repository, seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(digest, registry, repository) DO UPDATE SET seen = excluded.seen",
            [(d, registry, repository, now) for d in digests])


def sources(db: "Database", digest: str, registry: str, exclude: str) -> list[str]:
    rows = db.query("SELECT repository FROM registry_blob_sources WHERE digest = ? AND registry = ? "
                    "AND repository != ? ORDER BY seen DESC LIMIT ?", (digest, registry, exclude, MAX_MOUNT_SOURCES))
    return [r[0] for r in rows]


def compressed(db: "Database", diff_id: str, media_type: str) -> tuple[str, int] | None:
    row = db.query_one("SELECT digest, size FROM registry_compressed_layers WHERE diff_id = ? AND media_type = ?",
                       (diff_id, media_type))
    return (row[0], row[1]) if row else None


def set_compressed(db: "Database", diff_id: str, media_type: str, digest: str, size: int) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO registry_compressed_layers(diff_id, media_type, digest, size) "
                     "VALUES (?, ?, ?, ?)", (diff_id, media_type, digest, size))


def blob_in_use(db: "Database", digest: str) -> bool:
    """Whether any image row refers to the blob (as manifest, config or layer); read-only."""
    row = db.query_one(
        "SELECT 1 FROM images WHERE id = ? OR manifest_digest = ? "
        "UNION ALL SELECT 1 FROM image_layers WHERE blob_digest = ? "
        "UNION ALL SELECT 1 FROM registry_compressed_layers WHERE digest = ? LIMIT 1",
        (digest, digest, digest, digest))
    return row is not None

