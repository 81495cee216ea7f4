"""Rows of the build cache (migration 0401): what each executed build step made."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from krat.db.connection import Database


@dataclass(frozen=True)
class CacheRecord:
    key: str
    parent: str
    instruction: str
    args: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    created_at: float = 0.0
    last_used: float = 0.0


def _record(row) -> CacheRecord:
    return CacheRecord(row["key"], row["parent"], row["instruction"], json.loads(row["args"]),
                       json.loads(row["sources"]), json.loads(row["result"]), row["created_at"], row["last_used"])


def get(db: "Database", key: str) -> CacheRecord | None:
    row = db.query_one("SELECT * FROM build_cache WHERE key = ?", (key,))
    return _record(row) if row else None


def children(db: "Database", parent: str) -> list[CacheRecord]:
    """Steps recorded on the same parent, newest first (what a miss is compared with)."""
    rows = db.query("SELECT * FROM build_cache WHERE parent = ? ORDER BY last_used DESC", (parent,))
    return [_record(r) for r in rows]


def put(db: "Database", record: CacheRecord) -> None:
    now = record.created_at or time.time()
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO build_cache(key, parent, instruction, args, sources, result, created_at, last_used)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET result = excluded.result,"
            " last_used = excluded.last_used",
            (record.key, record.parent, record.instruction, json.dumps(record.args, sort_keys=True),
             json.dumps(record.sources, sort_keys=True), json.dumps(record.result, sort_keys=True), now, now))


def touch(db: "Database", key: str) -> None:
    with db.transaction() as conn:
        conn.execute("UPDATE build_cache SET last_used = ? WHERE key = ?", (time.time(), key))


def delete(db: "Database", keys: list[str]) -> None:
    with db.transaction() as conn:
        conn.executemany("DELETE FROM build_cache WHERE key = ?", [(k,) for k in keys])


def all_records(db: "Database", older_than: float | None = None) -> list[CacheRecord]:
    if older_than is None:
        rows = db.query("SELECT * FROM build_cache")
    else:
        rows = db.query("SELECT * FROM build_cache WHERE last_used < ?", (older_than,))
    return [_record(r) for r in rows]


def file_digests(db: "Database", prefix: str) -> dict[str, tuple[str, str]]:
    """{path: (signature, digest)} for context files under `prefix` (a directory + '/')."""
    rows = db.query("SELECT path, signature, digest FROM build_file_digests WHERE path >= ? AND path < ?",
                    (prefix, prefix + "\U0010ffff"))
    return {r["path"]: (r["signature"], r["digest"]) for r in rows}


def save_file_digests(db: "Database", entries: dict[str, tuple[str, str]]) -> None:
    if not entries:
        return
    with db.transaction() as conn:
        conn.executemany("INSERT INTO build_file_digests(path, signature, digest) VALUES (?, ?, ?)"
                         " ON CONFLICT(path) DO UPDATE SET signature = excluded.signature, digest = excluded.digest",
                         [(p, s, d) for p, (s, d) in entries.items()])


def forget_file_digests(db: "Database") -> int:
    with db.transaction() as conn:
        return conn.execute("DELETE FROM build_file_digests").rowcount
