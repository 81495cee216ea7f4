"""krat exec's row lookup keeps the rows it found with the database's version, and answers from
there (without SQLite) only while the database is at that version: every commit, and the
checkpoint when the last connection closes, make the next lookup read the database again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from krat.db import containers, open_database

SRC = str(Path(__file__).resolve().parents[3] / "src")
CID = "ab12" + "0" * 60


def lookup(db_path: Path, cache: Path, ref: str) -> tuple[dict | None, bool]:
    """find_container in a fresh process (as krat exec: it exits without closing SQLite);
    the row, and whether that process loaded SQLite."""
    code = ("import json, sys, krat.db.lookup as l\n"
            f"row = l.find_container({str(db_path)!r}, {ref!r}, {str(cache)!r})\n"
            "print(json.dumps([row, '_sqlite3' in sys.modules]), flush=True)\n"
            "import os; os._exit(0)")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}).stdout
    row, loaded = json.loads(out)
    return row, loaded


def settle(db_path: Path) -> None:
    """As if krat.db was last written a while ago (the lookup keeps no row read within SETTLE of that)."""
    past = time.time() - 5
    os.utime(db_path, (past, past))


def make_db(tmp_path: Path):
    db = open_database(tmp_path / "krat.db")
    containers.insert(db, containers.ContainerRow(
        id=CID, name="web", image_id="sha256:" + "1" * 64, image_ref="busybox", created="now",
        spec='{"runtime": ""}', status="running", pid=10, monitor_pid=0, monitor_start=0, exit_code=0, error="",
        started_at="", finished_at="", oom_killed=False, restart_count=0, stop_requested=False))
    containers.update_state(db, CID, status="running", pid=10)
    return db


def warm(db_path: Path, cache: Path, ref: str = "web") -> None:
    """Lookups until one answers from the cache (the first may find the WAL index being made)."""
    for _ in range(3):
        row, loaded = lookup(db_path, cache, ref)
        if not loaded:
            return
    raise AssertionError("the cache never answered")


def test_a_kept_row_answers_without_sqlite_while_nothing_changed(tmp_path):
    db = make_db(tmp_path)
    db.close()
    db_path, cache = tmp_path / "krat.db", tmp_path / "run" / "exec-lookup.json"
    cache.parent.mkdir()
    settle(db_path)
    first, loaded = lookup(db_path, cache, "web")
    assert loaded and first["id"] == CID and first["status"] == "running"
    warm(db_path, cache)
    assert lookup(db_path, cache, "web") == (first, False)
    assert lookup(db_path, cache, "ab1")[0] == first           # an id prefix, kept beside the name
    assert lookup(db_path, cache, "nope") == (None, True)       # nothing found: nothing kept


def test_every_commit_is_seen(tmp_path):
    db = make_db(tmp_path)
    db_path, cache = tmp_path / "krat.db", tmp_path / "exec-lookup.json"
    settle(db_path)
    warm(db_path, cache)
    containers.update_state(db, CID, status="exited", pid=0)    # a commit, connection kept open
    row, loaded = lookup(db_path, cache, "web")
    assert loaded and row["status"] == "exited"
    settle(db_path)
    warm(db_path, cache)
    containers.rename(db, CID, "web2")
    assert lookup(db_path, cache, "web") == (None, True)
    assert lookup(db_path, cache, "web2")[0]["name"] == "web2"
    db.close()


def test_a_change_then_the_last_close_is_seen(tmp_path):
    """The last connection to close copies the WAL into krat.db and deletes the WAL and its
    index: the next index can look as the old one did, but krat.db has been written since."""
    db = make_db(tmp_path)
    db.close()
    db_path, cache = tmp_path / "krat.db", tmp_path / "exec-lookup.json"
    settle(db_path)
    warm(db_path, cache)
    db = open_database(db_path)
    containers.update_state(db, CID, status="paused")
    db.close()
    assert not (tmp_path / "krat.db-shm").exists()
    for _ in range(2):
        row, _ = lookup(db_path, cache, "web")   # krat.db written just now: not taken as a version
        assert row["status"] == "paused"
    settle(db_path)   # later (its mtime is not the one the kept row was read with)
    for _ in range(3):
        row, _ = lookup(db_path, cache, "web")
        assert row["status"] == "paused"


def test_a_damaged_cache_is_not_used(tmp_path):
    db = make_db(tmp_path)
    db.close()
    db_path, cache = tmp_path / "krat.db", tmp_path / "exec-lookup.json"
    settle(db_path)
    warm(db_path, cache)
    doc = json.loads(cache.read_text())
    doc["rows"]["web"].pop("status")
    cache.write_text(json.dumps(doc))
    row, loaded = lookup(db_path, cache, "web")
    assert loaded and row["status"] == "running"
    cache.write_text("{not json")
    assert lookup(db_path, cache, "web")[0]["status"] == "running"


def test_no_row_is_kept_while_krat_db_was_written_just_now(tmp_path):
    """Timestamps may move in clock ticks: a row read right after a write to krat.db is not kept,
    or a write a moment later might leave krat.db's mtime as it was."""
    db = make_db(tmp_path)
    db.close()
    db_path, cache = tmp_path / "krat.db", tmp_path / "exec-lookup.json"
    soon = time.time() + 60   # "just now", for as long as this test takes
    os.utime(db_path, (soon, soon))
    for _ in range(3):
        row, loaded = lookup(db_path, cache, "web")
        assert loaded and row["status"] == "running"
    assert not cache.exists()
