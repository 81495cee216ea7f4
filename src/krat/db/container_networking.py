"""Rows of container_networking: each container's network request (mode, networks, aliases,
ports...), and forgetting all of a container's networking rows.

Apart from krat.db.networks (which re-exports these) so that a plain `--network none` run,
whose networking is this one row, does not load the network, endpoint and port rows'
module (~0.25 ms).
"""

from __future__ import annotations

from krat.oci import jsoncodec as json  # not `json`: json.decoder loads re (~1 ms)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.db.connection import Database


def save_container_config(db: "Database", container_id: str, name: str, config: dict) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO container_networking(container_id, name, config_json) VALUES (?,?,?)",
                     (container_id, name, json.dumps(config)))


def container_config(db: "Database", container_id: str) -> tuple[str, dict] | None:
    row = db.query_one("SELECT name, config_json FROM container_networking WHERE container_id = ?", (container_id,))
    return (row["name"], json.loads(row["config_json"])) if row else None


def joined_by(db: "Database", container_id: str) -> list[str]:
    """Containers configured to share this one's network namespace (`--network container:ID`)."""
    found = db.query("SELECT container_id FROM container_networking WHERE config_json LIKE ?",
                     (f'%"container": "{container_id}"%',))
    return [row[0] for row in found]


def rename_container(db: "Database", container_id: str, name: str) -> None:
    with db.transaction() as conn:
        conn.execute("UPDATE container_networking SET name = ? WHERE container_id = ?", (name, container_id))


def forget_container(db: "Database", container_id: str) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM port_mappings WHERE container_id = ?", (container_id,))
        conn.execute("DELETE FROM endpoints WHERE container_id = ?", (container_id,))
        conn.execute("DELETE FROM container_networking WHERE container_id = ?", (container_id,))
