"""Numbered migrations: db/migrations/NNNN_name.sql, each applied once, in name order.

Applied names are rows of `schema_migrations`, so migrations written on different
branches (one number range per area) apply independently of each other.
"""

from __future__ import annotations

import os

from krat.db.lookup import _import_sqlite3

sqlite3 = _import_sqlite3()  # the C module, not the sqlite3 package; without functools (see lookup)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.db.connection import Database

_CREATE = "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)"


# a plain directory listing: importlib.resources costs start-up time on every command
_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def names() -> list[str]:
    return sorted(n for n in os.listdir(_FOLDER) if n.endswith(".sql"))


def available() -> list[tuple[str, str]]:
    found = []
    for name in names():
        with open(os.path.join(_FOLDER, name), encoding="utf-8") as f:
            found.append((name, f.read()))
    return found


def migrate(db: "Database") -> None:
    conn = db.conn
    # Fast path: one read when the schema is current (every CLI call opens the DB).
    try:
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    except sqlite3.OperationalError:
        done = set()
    if all(name in done for name in names()):
        return
    wanted = available()
    with db.transaction():
        conn.execute(_CREATE)
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        for name, sql in wanted:
            if name in done:
                continue
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations(name) VALUES (?)", (name,))


def _statements(sql: str) -> list[str]:
    # executescript() would COMMIT our transaction; split on complete statements instead.
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return [s for s in out if s]
