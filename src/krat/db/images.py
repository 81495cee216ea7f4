"""SQL for images, tags, repo digests and layer reference counts (migration 0100).

Callers wrap multi-statement changes in `db.transaction()`; the functions here never
commit on their own. Layer counts move only together with image_layers rows.
"""

from __future__ import annotations

import time

from krat.db.connection import Database
from krat.db.imagerows import (  # noqa: F401  (the rows a start reads, re-exported)
    _IMAGE_COLS, ImageRow, _row, get_image, get_with_run_doc, ids_with_prefix, image_by_digest, image_by_tag,
    set_run_doc)
from krat.oci.records import record


@record(frozen=True)
class LayerRef:
    diff_id: str
    blob_digest: str


@record(frozen=True)
class ImageListing:
    """What `krat images` shows, from one query: the image and its names."""

    image: ImageRow
    tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    has_children: bool


def insert_image(db: Database, row: ImageRow, layers: list[tuple[str, str, int]]) -> bool:
    """Add an image and count its layers (diff_id, blob_digest, size); False if it was there."""
    cur = db.conn.execute(
        f"INSERT OR IGNORE INTO images ({_IMAGE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (row.id, row.manifest_digest, row.created, row.size, row.architecture, row.os,
         row.parent_id, row.added),
    )
    if cur.rowcount == 0:
        return False
    for position, (diff_id, blob_digest, size) in enumerate(layers):
        db.conn.execute(
            "INSERT INTO layers (diff_id, size, refcount) VALUES (?, ?, 1) "
            "ON CONFLICT(diff_id) DO UPDATE SET refcount = refcount + 1",
            (diff_id, size),
        )
        db.conn.execute(
            "INSERT INTO image_layers (image_id, position, diff_id, blob_digest) VALUES (?, ?, ?, ?)",
            (row.id, position, diff_id, blob_digest),
        )
    return True


def delete_image(db: Database, image_id: str) -> list[str]:
    """Remove an image, its names and its layer counts; return diff_ids no image uses any more."""
    diff_ids = [r[0] for r in db.query("SELECT diff_id FROM image_layers WHERE image_id = ?", (image_id,))]
    db.conn.execute("DELETE FROM images WHERE id = ?", (image_id,))  # cascades to tags, layers rows
    freed = []
    for diff_id in diff_ids:
        db.conn.execute("UPDATE layers SET refcount = refcount - 1 WHERE diff_id = ?", (diff_id,))
    for diff_id in dict.fromkeys(diff_ids):
        if db.query_one("SELECT 1 FROM layers WHERE diff_id = ? AND refcount = 0", (diff_id,)):
            db.conn.execute("DELETE FROM layers WHERE diff_id = ?", (diff_id,))
            freed.append(diff_id)
    return freed


def layers_of(db: Database, image_id: str) -> list[LayerRef]:
    rows = db.query("SELECT diff_id, blob_digest FROM image_layers WHERE image_id = ? ORDER BY position",
                    (image_id,))
    return [LayerRef(r[0], r[1]) for r in rows]


def set_tag(db: Database, name: str, repository: str, tag: str, image_id: str) -> str | None:
    """Point `name` at `image_id` (Docker moves a tag); return the image it pointed at before."""
    before = image_by_tag(db, name)
    db.conn.execute(
        "INSERT INTO tags (name, repository, tag, image_id, added) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, added = excluded.added",
        (name, repository, tag, image_id, time.time()),
    )
    return before


def delete_tag(db: Database, name: str) -> bool:
    return db.conn.execute("DELETE FROM tags WHERE name = ?", (name,)).rowcount > 0


def tags_of(db: Database, image_id: str) -> list[str]:
    return [r[0] for r in db.query("SELECT name FROM tags WHERE image_id = ? ORDER BY added, name", (image_id,))]


def add_repo_digest(db: Database, repository: str, digest: str, image_id: str) -> None:
    db.conn.execute(
        "INSERT INTO repo_digests (repository, digest, image_id) VALUES (?, ?, ?) "
        "ON CONFLICT(repository, digest) DO UPDATE SET image_id = excluded.image_id",
        (repository, digest, image_id),
    )


def repo_digests_of(db: Database, image_id: str) -> list[str]:
    rows = db.query("SELECT repository, digest FROM repo_digests WHERE image_id = ? ORDER BY repository",
                    (image_id,))
    return [f"{r[0]}@{r[1]}" for r in rows]


def children_of(db: Database, image_id: str) -> list[str]:
    return [r[0] for r in db.query("SELECT id FROM images WHERE parent_id = ?", (image_id,))]


def list_images(db: Database) -> list[ImageListing]:
    """Every image with its tags and digests, newest first, in three queries (no blob reads)."""
    rows = db.query(f"SELECT {_IMAGE_COLS}, EXISTS(SELECT 1 FROM images c WHERE c.parent_id = images.id) "
                    "AS has_children FROM images ORDER BY created DESC, added DESC")
    tags: dict[str, list[str]] = {}
    for r in db.query("SELECT image_id, name FROM tags ORDER BY added, name"):
        tags.setdefault(r[0], []).append(r[1])
    digests: dict[str, list[str]] = {}
    for r in db.query("SELECT image_id, repository, digest FROM repo_digests ORDER BY repository"):
        digests.setdefault(r[0], []).append(f"{r[1]}@{r[2]}")
    return [ImageListing(_row(r), tuple(tags.get(r["id"], ())), tuple(digests.get(r["id"], ())),
                         bool(r["has_children"])) for r in rows]


def blob_in_use(db: Database, digest: str) -> bool:
    return bool(
        db.query_one("SELECT 1 FROM images WHERE id = ? OR manifest_digest = ?", (digest, digest))
        or db.query_one("SELECT 1 FROM image_layers WHERE blob_digest = ?", (digest,))
    )


def blob_has_diff_id(db: Database, blob_digest: str, diff_id: str) -> bool:
    """Whether a stored image already pairs this blob with this diff_id (verified then)."""
    return db.query_one("SELECT 1 FROM image_layers WHERE blob_digest = ? AND diff_id = ? LIMIT 1",
                        (blob_digest, diff_id)) is not None


def layer_in_use(db: Database, diff_id: str) -> bool:
    return db.query_one("SELECT 1 FROM layers WHERE diff_id = ?", (diff_id,)) is not None


def layer_size(db: Database, diff_id: str) -> int | None:
    r = db.query_one("SELECT size FROM layers WHERE diff_id = ?", (diff_id,))
    return r[0] if r else None


def containers_using(db: Database, image_id: str) -> list[str]:
    """Ids of containers made from the image, if the containers area's table exists."""
    cols = {r[1] for r in db.query("PRAGMA table_info(containers)")}
    if "image_id" not in cols:
        return []
    id_col = "id" if "id" in cols else "rowid"
    return [str(r[0]) for r in db.query(f"SELECT {id_col} FROM containers WHERE image_id = ?", (image_id,))]


def referenced_blobs(db: Database) -> set[str]:
    refs = {r[0] for r in db.query("SELECT id FROM images")}
    refs |= {r[0] for r in db.query("SELECT manifest_digest FROM images")}
    refs |= {r[0] for r in db.query("SELECT DISTINCT blob_digest FROM image_layers")}
    return refs


def referenced_layers(db: Database) -> set[str]:
    return {r[0] for r in db.query("SELECT diff_id FROM layers")}


def counts(db: Database) -> dict[str, int]:
    """Number of images, and of containers when the containers area's table exists."""
    images = db.query_one("SELECT COUNT(*) FROM images")[0]
    has_containers = db.query_one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'containers'")
    containers = db.query_one("SELECT COUNT(*) FROM containers")[0] if has_containers else 0
    return {"images": images, "containers": containers}
