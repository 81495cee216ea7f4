"""Opening the database and running transactions.

Concurrent krat processes share one file. `BEGIN IMMEDIATE` takes the write lock at
the start of a transaction, so two writers never both read-then-write stale data;
the busy timeout makes the loser wait instead of failing.
"""

from __future__ import annotations

import contextlib
import _sqlite3 as sqlite3  # the C module: the sqlite3 package adds datetime adapters krat does not use (~1 ms)
from collections.abc import Iterator
import os

from krat.db.migrate import migrate
from krat.errors import AlreadyExists, Conflict

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

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested calls join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def close(self) -> None:
        self.conn.close()


def open_database(path: str | os.PathLike[str]) -> Database:
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


@contextlib.contextmanager
def unique(what: str) -> Iterator[None]:
    """Turn a UNIQUE/PRIMARY KEY violation inside the block into AlreadyExists(what)."""
    try:
        yield
    except sqlite3.IntegrityError as err:
        text = str(err)
        if "UNIQUE" in text or "PRIMARY KEY" in text:
            raise AlreadyExists(what) from err
        raise Conflict(f"{what}: {text}") from err
