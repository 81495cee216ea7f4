"""One read of the containers table for `krat exec`, through `_sqlite3` directly.

The sqlite3 package adds its DB-API layer (datetime, collections.abc) to the C module,
and open_database() creates, tunes and migrates: ~3 ms that `krat exec` (~20 ms in all)
does not need to read one row. An unexpected database (missing, older schema, locked
for longer than the timeout) gives None here; the caller then goes the ordinary way.
Loading _sqlite3 and opening the database still cost ~1.2 ms: a row found is kept with
the database's version and, while nothing has been committed since, read from there.
"""

from __future__ import annotations

import os

# How a reference names containers (containers.find uses these too): full id or name first,
# then an id prefix, as a range on the primary key.
FIND_EXACT = " WHERE c.id = ? OR c.name = ?"
FIND_BY_PREFIX = " WHERE c.id >= ? AND c.id < ?"

_OPEN: list = []   # connections kept from being closed (and checkpointing) before exit

_COLUMNS = ("id", "name", "spec", "status", "pid", "monitor_pid", "monitor_start")


def _import_sqlite3():
    """`_sqlite3` without `functools`: the C module's init takes only `functools.lru_cache`
    (its statement cache), and functools' pure-Python half loads collections, operator,
    keyword, reprlib and types (~1.5 ms of `krat exec`). A stand-in module gives it the C
    wrapper that functools.lru_cache itself returns, and is gone again right after. Only
    where functools is not loaded yet: no other thread can see the stand-in (`threading`
    imports functools)."""
    import sys

    if "_sqlite3" in sys.modules or "functools" in sys.modules:
        import _sqlite3

        return _sqlite3
    import _functools

    def lru_cache(maxsize=128, typed=False):
        return lambda function: _functools._lru_cache_wrapper(function, maxsize, typed, _cache_info)

    def _cache_info(*counts):  # what cache_info() would return; nothing here asks
        return counts

    stand_in = type(sys)("functools")
    stand_in.lru_cache = lru_cache
    sys.modules["functools"] = stand_in
    try:
        import _sqlite3
    except AttributeError:  # a Python whose _sqlite3 wants more of functools: the real one
        del sys.modules["functools"]
        import _sqlite3
    finally:
        if sys.modules.get("functools") is stand_in:
            del sys.modules["functools"]
    return _sqlite3


def find_container(db_path: str, ref: str, cache_path: str | None = None) -> dict | None:
    """The one container whose id, name or id prefix is `ref`, as {column: value}, else None.

    cache_path: a file that keeps rows found before with the version of the database they
    were read at (see version()): while the database is at that version still, the row is
    what a query would return, and comes from there without loading SQLite (~1.2 ms)."""
    if cache_path is not None:
        at = version(db_path)
        if at is not None:
            row = _cached(cache_path, at, ref)
            if row is not None:
                return row
        row = _query(db_path, ref)
        if row is not None and at is not None and version(db_path) == at:
            _remember(cache_path, at, ref, row)
        return row
    return _query(db_path, ref)


# --- a row as of a version of the database ----------------------------------------------------
#
# The database is in WAL mode: a commit appends frames to krat.db-wal and then updates the
# wal-index header at the start of krat.db-shm (a shared-memory file every connection maps),
# whose fields include the last committed frame and the WAL's salts (new each time the WAL
# starts over). That header, 48 bytes kept twice (the writer fills the second copy, then the
# first; a reader that sees both equal has a whole one), changes with every commit. When the
# last connection closes, SQLite copies the WAL into krat.db and deletes both files: the next
# connection's header can be the same as an earlier one, but krat.db has been written
# then, after the earlier header was read. So a version is the header (or its absence) with
# krat.db's inode, size and mtime, and is only taken when krat.db was last written more than
# SETTLE seconds ago: a later write then has a later mtime, even on a file system whose
# timestamps move in steps of a clock tick (a clock stepped back by hand aside).

SETTLE = 0.1
_HEADER = 48


def version(db_path: str) -> str | None:
    """The database's committed content as a string that changes whenever it does; None when
    it cannot be told exactly now (krat.db written just now, a header being rewritten)."""
    import time

    try:
        st = os.stat(db_path)
    except OSError:
        return None
    if not st.st_mtime < time.time() - SETTLE:
        return None
    try:
        fd = os.open(db_path + "-shm", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        header = "none"
    except OSError:
        return None
    else:
        try:
            both = os.read(fd, 2 * _HEADER)
        finally:
            os.close(fd)
        if len(both) < 2 * _HEADER or both[:_HEADER] != both[_HEADER:] or both[12] != 1:  # isInit
            return None
        header = both[:_HEADER].hex()
    return f"{db_path}:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{header}"


def _cached(cache_path: str, at: str, ref: str) -> dict | None:
    from krat.oci import jsoncodec

    try:
        with open(cache_path, "rb") as f:
            doc = jsoncodec.loads(f.read())
        row = doc["rows"][ref] if doc["version"] == at else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(row, dict) or set(row) != set(_COLUMNS):
        return None
    return row


def _remember(cache_path: str, at: str, ref: str, row: dict) -> None:
    """Keep row for ref (rows of an older version go); best effort: a failure costs a query later."""
    from krat.oci import jsoncodec

    rows = {}
    try:
        with open(cache_path, "rb") as f:
            doc = jsoncodec.loads(f.read())
        if doc["version"] == at and isinstance(doc["rows"], dict):
            rows = doc["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    rows[ref] = row
    tmp = f"{cache_path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, jsoncodec.dumps({"version": at, "rows": rows}).encode())
        finally:
            os.close(fd)
        os.rename(tmp, cache_path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _query(db_path: str, ref: str) -> dict | None:
    if not os.path.exists(db_path):
        return None
    _sqlite3 = _import_sqlite3()

    select = ("SELECT " + ", ".join(f"c.{c}" if c in ("id", "name", "spec") else f"s.{c}" for c in _COLUMNS)
              + " FROM containers c JOIN container_states s ON s.id = c.id")
    try:
        conn = _sqlite3.connect(db_path, timeout=30.0, isolation_level=None)
        # Left open on purpose (krat exec ends with cli.main.exit_now): closing the last
        # connection would checkpoint the WAL and sync (~10 ms). See cli.main.exit_now.
        _OPEN.append(conn)
        rows = conn.execute(select + FIND_EXACT, (ref, ref)).fetchall()
        if not rows and ref and all(ch in "0123456789abcdef" for ch in ref):
            rows = conn.execute(select + FIND_BY_PREFIX, (ref, ref + "g")).fetchall()
    except _sqlite3.Error:
        return None
    return dict(zip(_COLUMNS, rows[0])) if len(rows) == 1 else None
