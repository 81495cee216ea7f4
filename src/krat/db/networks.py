"""Rows of networks, endpoints (connections and address leases) and published ports."""

from __future__ import annotations

from krat.oci import jsoncodec as json  # not `json`: json.decoder loads re (~1 ms)

from krat.db.connection import unique
from krat.db.container_networking import (  # noqa: F401  (the container_networking rows, re-exported)
    container_config, forget_container, joined_by, rename_container, save_container_config)
from krat.oci.records import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.db.connection import Database


@record(frozen=True)
class NetworkRecord:
    id: str
    name: str
    driver: str
    subnet: str | None
    gateway: str | None
    auto_subnet: bool
    internal: bool
    dns: bool
    labels: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    created_at: str = ""


@record(frozen=True)
class EndpointRecord:
    container_id: str
    network_id: str
    seq: int
    aliases: tuple[str, ...] = ()
    requested_ip: str | None = None
    requested_mac: str | None = None
    ip: str | None = None
    mac: str | None = None
    host_veth: str | None = None


@record(frozen=True)
class PortRow:
    container_id: str
    network_id: str
    host_ip: str
    host_port: int
    container_port: int
    proto: str


def _network(row) -> NetworkRecord:
    return NetworkRecord(row["id"], row["name"], row["driver"], row["subnet"], row["gateway"],
                         bool(row["auto_subnet"]), bool(row["internal"]), bool(row["dns"]),
                         json.loads(row["labels_json"]), json.loads(row["options_json"]), row["created_at"])


def _endpoint(row) -> EndpointRecord:
    return EndpointRecord(row["container_id"], row["network_id"], row["seq"], tuple(json.loads(row["aliases_json"])),
                          row["requested_ip"], row["requested_mac"], row["ip"], row["mac"], row["host_veth"])


def insert_network(db: "Database", rec: NetworkRecord) -> None:
    with db.transaction() as conn, unique(f"network with name {rec.name} already exists"):
        conn.execute(
            "INSERT INTO networks(id, name, driver, subnet, gateway, auto_subnet, internal, dns, labels_json,"
            " options_json, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (rec.id, rec.name, rec.driver, rec.subnet, rec.gateway, int(rec.auto_subnet), int(rec.internal),
             int(rec.dns), json.dumps(rec.labels), json.dumps(rec.options), rec.created_at))


def list_networks(db: "Database") -> list[NetworkRecord]:
    return [_network(r) for r in db.query("SELECT * FROM networks ORDER BY created_at, name")]


def get_network(db: "Database", ref: str) -> NetworkRecord | None:
    """By exact name, full id, or unique id prefix (Docker's lookup order)."""
    row = db.query_one("SELECT * FROM networks WHERE name = ? OR id = ?", (ref, ref))
    if row is None and len(ref) >= 1 and all(c in "0123456789abcdef" for c in ref):
        rows = db.query("SELECT * FROM networks WHERE id LIKE ? LIMIT 2", (ref + "%",))
        row = rows[0] if len(rows) == 1 else None
    return _network(row) if row else None


def set_subnet(db: "Database", network_id: str, subnet: str, gateway: str) -> None:
    with db.transaction() as conn:
        conn.execute("UPDATE networks SET subnet = ?, gateway = ? WHERE id = ?", (subnet, gateway, network_id))


def delete_network(db: "Database", network_id: str) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM networks WHERE id = ?", (network_id,))


def subnets_in_use(db: "Database") -> list[str]:
    return [r[0] for r in db.query("SELECT subnet FROM networks WHERE subnet IS NOT NULL")]


# -- container configuration: krat.db.container_networking ---------------------------------

# -- endpoints ------------------------------------------------------------------------

def add_endpoint(db: "Database", ep: EndpointRecord) -> None:
    with db.transaction() as conn, unique(f"container {ep.container_id[:12]} is already connected to that network"):
        conn.execute("INSERT INTO endpoints(container_id, network_id, seq, aliases_json, requested_ip, requested_mac)"
                     " VALUES (?,?,?,?,?,?)", (ep.container_id, ep.network_id, ep.seq, json.dumps(list(ep.aliases)),
                                               ep.requested_ip, ep.requested_mac))


def endpoints_of_container(db: "Database", container_id: str) -> list[EndpointRecord]:
    return [_endpoint(r) for r in db.query("SELECT * FROM endpoints WHERE container_id = ? ORDER BY seq",
                                           (container_id,))]


def endpoints_of_network(db: "Database", network_id: str) -> list[EndpointRecord]:
    return [_endpoint(r) for r in db.query("SELECT * FROM endpoints WHERE network_id = ? ORDER BY seq, container_id",
                                           (network_id,))]


def used_ips(db: "Database", network_id: str) -> list[str]:
    rows = db.query("SELECT ip FROM endpoints WHERE network_id = ? AND ip IS NOT NULL"
                    " UNION SELECT requested_ip FROM endpoints WHERE network_id = ? AND requested_ip IS NOT NULL",
                    (network_id, network_id))
    return [r[0] for r in rows]


def lease(db: "Database", container_id: str, network_id: str, ip: str, mac: str, veth: str) -> None:
    with db.transaction() as conn, unique(f"address {ip} is already in use"):
        conn.execute("UPDATE endpoints SET ip = ?, mac = ?, host_veth = ? WHERE container_id = ? AND network_id = ?",
                     (ip, mac, veth, container_id, network_id))


def release(db: "Database", container_id: str, network_id: str | None = None) -> None:
    with db.transaction() as conn:
        sql = "UPDATE endpoints SET ip = NULL, mac = NULL, host_veth = NULL WHERE container_id = ?"
        if network_id is None:
            conn.execute(sql, (container_id,))
        else:
            conn.execute(sql + " AND network_id = ?", (container_id, network_id))


def remove_endpoint(db: "Database", container_id: str, network_id: str) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM endpoints WHERE container_id = ? AND network_id = ?", (container_id, network_id))


def attached_count(db: "Database", network_id: str) -> int:
    row = db.query_one("SELECT count(*) FROM endpoints WHERE network_id = ? AND ip IS NOT NULL", (network_id,))
    return int(row[0])


def holders(db: "Database") -> set[str]:
    """Containers that hold something of the kernel by the rows: an address lease, a veth
    name or a published port (each is released when the container stops)."""
    found = db.query("SELECT container_id FROM endpoints WHERE ip IS NOT NULL OR host_veth IS NOT NULL"
                     " UNION SELECT container_id FROM port_mappings")
    return {row[0] for row in found}


def connected_count(db: "Database", network_id: str) -> int:
    return int(db.query_one("SELECT count(*) FROM endpoints WHERE network_id = ?", (network_id,))[0])


# -- published ports --------------------------------------------------------------------

def all_ports(db: "Database") -> list[PortRow]:
    return [PortRow(*r) for r in db.query("SELECT container_id, network_id, host_ip, host_port, container_port,"
                                          " proto FROM port_mappings")]


def add_ports(db: "Database", rows: list[PortRow]) -> None:
    with db.transaction() as conn, unique("port is already allocated"):
        conn.executemany("INSERT INTO port_mappings(container_id, network_id, host_ip, host_port, container_port,"
                         " proto) VALUES (?,?,?,?,?,?)",
                         [(r.container_id, r.network_id, r.host_ip, r.host_port, r.container_port, r.proto)
                          for r in rows])


def ports_of(db: "Database", container_id: str) -> list[PortRow]:
    return [PortRow(*r) for r in db.query("SELECT container_id, network_id, host_ip, host_port, container_port,"
                                          " proto FROM port_mappings WHERE container_id = ?", (container_id,))]


def remove_ports(db: "Database", container_id: str) -> None:
    with db.transaction() as conn:
        conn.execute("DELETE FROM port_mappings WHERE container_id = ?", (container_id,))
