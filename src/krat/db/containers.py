"""The containers and container_states tables.

Names are unique by constraint: of concurrent inserts with one name exactly one wins.
State updates are compare-and-set on the current status, so two processes (a CLI and a
monitor) never both act on one transition.
"""

from __future__ import annotations

from krat.db.connection import Database, unique
from krat.db.lookup import FIND_BY_PREFIX, FIND_EXACT, _import_sqlite3
from krat.errors import AlreadyExists
from krat.oci.records import record

sqlite3 = _import_sqlite3()  # the C module, not the sqlite3 package; without functools (see lookup)

STATE_FIELDS = ("status", "pid", "monitor_pid", "monitor_start", "exit_code", "error", "started_at",
                "finished_at", "oom_killed", "restart_count", "stop_requested")

_SELECT = ("SELECT c.id, c.name, c.image_id, c.image_ref, c.created, c.spec, "
           + ", ".join(f"s.{f}" for f in STATE_FIELDS)
           + " FROM containers c JOIN container_states s ON s.id = c.id")


@record(frozen=True)
class ContainerRow:
    id: str
    name: str
    image_id: str
    image_ref: str
    created: str
    spec: str
    status: str
    pid: int
    monitor_pid: int
    monitor_start: int
    exit_code: int
    error: str
    started_at: str
    finished_at: str
    oom_killed: bool
    restart_count: int
    stop_requested: bool


def _row(r: sqlite3.Row) -> ContainerRow:
    values = dict(r)
    values["oom_killed"] = bool(values["oom_killed"])
    values["stop_requested"] = bool(values["stop_requested"])
    return ContainerRow(**values)


def insert(db: Database, row: ContainerRow) -> None:
    """Add a container in state created; AlreadyExists names the holder of a taken name."""
    try:
        with db.transaction() as conn, unique(f"container id {row.id}"):
            conn.execute("INSERT INTO containers(id, name, image_id, image_ref, created, spec) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         (row.id, row.name, row.image_id, row.image_ref, row.created, row.spec))
            conn.execute("INSERT INTO container_states(id) VALUES (?)", (row.id,))
    except AlreadyExists:
        holder = db.query_one("SELECT id FROM containers WHERE name = ?", (row.name,))
        if holder is None:
            raise
        raise AlreadyExists(f'the container name "/{row.name}" is already in use by container '
                            f'"{holder["id"]}"; remove (or rename) that container to reuse the name') from None


def get(db: Database, id_: str) -> ContainerRow | None:
    r = db.query_one(_SELECT + " WHERE c.id = ?", (id_,))
    return _row(r) if r else None


def find(db: Database, ref: str) -> list[ContainerRow]:
    """Rows whose full id, name, or id prefix is `ref` (exact matches first)."""
    rows = db.query(_SELECT + FIND_EXACT, (ref, ref))
    if rows:
        return [_row(r) for r in rows]
    if ref and all(ch in "0123456789abcdef" for ch in ref):
        rows = db.query(_SELECT + FIND_BY_PREFIX, (ref, ref + "g"))
    return [_row(r) for r in rows]


def list_all(db: Database) -> list[ContainerRow]:
    return [_row(r) for r in db.query(_SELECT + " ORDER BY c.created DESC")]


def update_state(db: Database, id_: str, expect: tuple[str, ...] | None = None, **fields) -> bool:
    """Set state fields; with `expect`, only if the status is one of those. True if applied."""
    bad = set(fields) - set(STATE_FIELDS)
    if bad:
        raise ValueError(f"unknown state fields {sorted(bad)}")
    sets = ", ".join(f"{k} = ?" for k in fields)
    params: list = [int(v) if isinstance(v, bool) else v for v in fields.values()]
    sql = f"UPDATE container_states SET {sets} WHERE id = ?"
    params.append(id_)
    if expect:
        sql += f" AND status IN ({', '.join('?' * len(expect))})"
        params.extend(expect)
    with db.transaction() as conn:
        return conn.execute(sql, params).rowcount == 1


def rename(db: Database, id_: str, name: str) -> None:
    try:
        with db.transaction() as conn, unique(f"container name {name}"):
            conn.execute("UPDATE containers SET name = ? WHERE id = ?", (name, id_))
    except AlreadyExists:
        raise AlreadyExists(f'the container name "/{name}" is already in use') from None


def delete(db: Database, id_: str) -> bool:
    with db.transaction() as conn:
        conn.execute("DELETE FROM container_states WHERE id = ?", (id_,))
        return conn.execute("DELETE FROM containers WHERE id = ?", (id_,)).rowcount == 1


def names(db: Database) -> set[str]:
    return {r[0] for r in db.query("SELECT name FROM containers")}
