"""Opening the database and running transactions.

Concurrent krat processes share one file. `BEGIN IMMEDIATE` takes the write lock at
the start of a transaction, so two writers never both read-then-write stale data;
the busy timeout makes the loser wait instead of failing.
"""

from __future__ import annotations

import os

from krat.db.lookup import _import_sqlite3
from krat.db.migrate import migrate
from krat.errors import AlreadyExists, Conflict

sqlite3 = _import_sqlite3()  # the C module, not the sqlite3 package; without functools (see lookup)

# The context managers below are small classes, not contextlib.contextmanager generators:
# contextlib (with functools and collections) costs every command ~2 ms to import.

BUSY_TIMEOUT_S = 30.0
# krat processes end without closing the database (cli.main.exit_now), so the next first
# opener rebuilds the WAL index from the WAL's valid frames: ~0.45 ms a MB. SQLite's default
# checkpoint at 1000 pages makes every command read ~2 MB on average (~1 ms); at 200 it is
# ~0.2 ms, for a checkpoint (two fdatasyncs, ~1-3 ms) every ~10 runs instead of every ~50.
WAL_AUTOCHECKPOINT_PAGES = 200


class Database:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._depth = 0

    def transaction(self) -> Transaction:
        """A write transaction (`with db.transaction() as conn:`); nested calls join the outer one."""
        return Transaction(self)

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def close(self) -> None:
        self.conn.close()


def open_database(path: str | os.PathLike[str]) -> Database:
    try:  # the folder exists but for a new store: makedirs' stat/mkdir/stat only then
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    except sqlite3.OperationalError:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    conn.execute("PRAGMA foreign_keys=ON")
    db = Database(conn)
    migrate(db)
    return db


class Transaction:
    """Database.transaction(): BEGIN IMMEDIATE on entry, COMMIT on a normal exit, ROLLBACK
    when the block raises; inside another transaction it only joins it."""

    __slots__ = ("db",)

    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        db = self.db
        if db._depth:
            db._depth += 1
        else:
            db.conn.execute("BEGIN IMMEDIATE")
            db._depth = 1
        return db.conn

    def __exit__(self, kind, err, tb) -> bool:
        db = self.db
        if db._depth > 1:
            db._depth -= 1
            return False
        db._depth = 0
        db.conn.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


class unique:
    """`with unique(what):` turns a UNIQUE/PRIMARY KEY violation inside the block into
    AlreadyExists(what), any other constraint's into Conflict."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, err, tb) -> bool:
        if kind is not None and issubclass(kind, sqlite3.IntegrityError):
            text = str(err)
            if "UNIQUE" in text or "PRIMARY KEY" in text:
                raise AlreadyExists(self.what) from err
            raise Conflict(f"{self.what}: {text}") from err
        return False
