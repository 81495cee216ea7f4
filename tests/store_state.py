"""A snapshot of everything an image command may change: DB rows, blobs, layer dirs, temp files."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

TABLES = ("images", "tags", "layers", "image_layers", "repo_digests")


def store_state(root: Path) -> dict:
    state: dict = {}
    db = root / "krat.db"
    if db.exists():
        conn = sqlite3.connect(db)
        try:
            for table in TABLES:
                try:
                    state[table] = sorted(map(tuple, conn.execute(f"SELECT * FROM {table}")))
                except sqlite3.OperationalError:
                    state[table] = None
        finally:
            conn.close()
    # bookkeeping dirs (.tmp, .trash) may come into being; what is in them may not stay
    for name in ("content/blobs/sha256", "content/ingest", "layers", "layers/.tmp", "layers/.trash", "layers/l"):
        folder = root / name
        state[name] = sorted(n for n in os.listdir(folder) if not n.startswith(".")) if folder.is_dir() else []
    return state
