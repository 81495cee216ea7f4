"""Rows of volumes and of the containers using them."""

from __future__ import annotations

from krat.oci import jsoncodec as json  # not `json`: json.decoder loads re (~1 ms)

from krat.db.connection import unique
from krat.oci.records import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.db.connection import Database


@record(frozen=True)
class VolumeRecord:
    name: str
    driver: str = "local"
    anonymous: bool = False
    labels: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    created_at: str = ""


def _volume(row) -> VolumeRecord:
    return VolumeRecord(row["name"], row["driver"], bool(row["anonymous"]), json.loads(row["labels_json"]),
                        json.loads(row["options_json"]), row["created_at"])


def insert(db: "Database", rec: VolumeRecord) -> None:
    with db.transaction() as conn, unique(f"volume {rec.name} already exists"):
        conn.execute("INSERT INTO volumes(name, driver, anonymous, labels_json, options_json, created_at)"
                     " VALUES (?,?,?,?,?,?)", (rec.name, rec.driver, int(rec.anonymous), json.dumps(rec.labels),
                                               json.dumps(rec.options), rec.created_at))


def get(db: "Database", name: str) -> VolumeRecord | None:
    row = db.query_one("SELECT * FROM volumes WHERE name = ?", (name,))
    return _volume(row) if row else None


def list_all(db: "Database") -> list[VolumeRecord]:
    return [_volume(r) for r in db.query("SELECT * FROM volumes ORDER BY name")]


def delete(db: "Database", name: str) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM volumes WHERE name = ?", (name,))


def users(db: "Database", name: str) -> list[str]:
    return [r[0] for r in db.query("SELECT container_id FROM volume_users WHERE volume_name = ?", (name,))]


def add_user(db: "Database", name: str, container_id: str) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT OR IGNORE INTO volume_users(volume_name, container_id) VALUES (?,?)", (name, container_id))


def volumes_of(db: "Database", container_id: str) -> list[VolumeRecord]:
    return [_volume(r) for r in db.query("SELECT v.* FROM volumes v JOIN volume_users u ON u.volume_name = v.name"
                                         " WHERE u.container_id = ? ORDER BY v.name", (container_id,))]


def drop_user(db: "Database", container_id: str) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM volume_users WHERE container_id = ?", (container_id,))


def unused(db: "Database") -> list[VolumeRecord]:
    return [_volume(r) for r in db.query("SELECT * FROM volumes WHERE name NOT IN"
                                         " (SELECT volume_name FROM volume_users) ORDER BY name")]


def save_mounts(db: "Database", container_id: str, mounts: list[dict]) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO container_mounts(container_id, mounts_json) VALUES (?,?)",
                     (container_id, json.dumps(mounts)))


def mounts_of(db: "Database", container_id: str) -> list[dict]:
    row = db.query_one("SELECT mounts_json FROM container_mounts WHERE container_id = ?", (container_id,))
    return json.loads(row[0]) if row else []


def forget_mounts(db: "Database", container_id: str) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM container_mounts WHERE container_id = ?", (container_id,))
        conn.execute("DELETE FROM volume_users WHERE container_id = ?", (container_id,))
