"""The image rows a container's start reads: an image by id (with its run_doc), by tag, by
digest or id prefix. Apart from krat.db.images (which re-exports them, the one module for
callers) so that `krat run` does not load the rest of the image SQL (~0.15 ms).
"""

from __future__ import annotations

from krat.oci.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.db.connection import Database


@record(frozen=True)
class ImageRow:
    id: str
    manifest_digest: str
    created: str
    size: int
    architecture: str
    os: str
    parent_id: str | None
    added: float


_IMAGE_COLS = "id, manifest_digest, created, size, architecture, os, parent_id, added"


def _row(r) -> ImageRow:
    return ImageRow(r["id"], r["manifest_digest"], r["created"], r["size"], r["architecture"],
                    r["os"], r["parent_id"], r["added"])


def get_image(db: Database, image_id: str) -> ImageRow | None:
    r = db.query_one(f"SELECT {_IMAGE_COLS} FROM images WHERE id = ?", (image_id,))
    return _row(r) if r else None


def get_with_run_doc(db: Database, image_id: str) -> tuple[ImageRow, str | None] | None:
    """The image's row and its run_doc (None until set_run_doc)."""
    r = db.query_one(f"SELECT {_IMAGE_COLS}, run_doc FROM images WHERE id = ?", (image_id,))
    return (_row(r), r["run_doc"]) if r else None


def set_run_doc(db: Database, image_id: str, text: str) -> None:
    """Store the run_doc; a cache, so a database that cannot take the write now is no error."""
    import _sqlite3

    try:
        db.conn.execute("UPDATE images SET run_doc = ? WHERE id = ? AND run_doc IS NULL", (text, image_id))
    except _sqlite3.OperationalError:
        pass


def ids_with_prefix(db: Database, hex_prefix: str, limit: int = 2) -> list[str]:
    rows = db.query("SELECT id FROM images WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                    (f"sha256:{hex_prefix}", f"sha256:{hex_prefix}\uffff", limit))
    return [r[0] for r in rows]


def image_by_tag(db: Database, name: str) -> str | None:
    r = db.query_one("SELECT image_id FROM tags WHERE name = ?", (name,))
    return r[0] if r else None


def image_by_digest(db: Database, repository: str, digest: str) -> str | None:
    r = db.query_one("SELECT image_id FROM repo_digests WHERE repository = ? AND digest = ?",
                     (repository, digest))
    if r:
        return r[0]
    r = db.query_one("SELECT id FROM images WHERE manifest_digest = ?", (digest,))
    return r[0] if r else None
