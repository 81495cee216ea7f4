"""One read of the containers table for `krat exec`, through `_sqlite3` directly.

The sqlite3 package adds its DB-API layer (datetime, collections.abc) to the C module,
and open_database() creates, tunes and migrates: ~3 ms that `krat exec` (~20 ms in all)
does not need to read one row. An unexpected database (missing, older schema, locked
for longer than the timeout) gives None here; the caller then goes the ordinary way.
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


def find_container(db_path: str, ref: str) -> dict | None:
    """The one container whose id, name or id prefix is `ref`, as {column: value}, else None."""
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
