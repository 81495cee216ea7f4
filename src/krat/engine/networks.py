"""NetworkService: networks (create/inspect/ls/rm/prune/connect/disconnect) and the
network side of a container's life (configure at create, attach at start, detach at stop).

The engine calls, in this order:

    net = NetworkService(db, paths)
    net.configure(cid, name, NetworkingRequest(...), exposed_ports)   # create: validates, stores
    att = net.attach(cid, hostname)      # start: netns, veths, IPs, ports, DNS -> Attachment
    ...  config.json gets att.oci_namespace() and att.oci_mounts()
    net.detach(cid)                      # stop, and after any failed start
    net.forget(cid)                      # rm: detach and drop the rows

A network's kernel objects (bridge, nftables table, DNS responder) exist only while a
container is attached: the first attach brings them up, the last detach removes them,
under a per-network file lock so concurrent runs do not race.
"""

from __future__ import annotations

import time
import os

from krat.db import networks as rows
from krat.engine.netattach import Attacher, Attachment, NetworkingRequest
from krat.engine.spec import is_name  # not a compiled `re` at import (~0.1 ms on `krat run`)
from krat.errors import Conflict, InvalidArgument, NotFound
from krat.oci.records import asdict, field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.db import Database
    from krat.engine.config import Paths
    from krat.net import ipam, ports

__all__ = ["Attachment", "NetworkService", "NetworkingRequest"]

PREDEFINED = ("bridge", "host", "none")
MTU_OPTION = "com.docker.network.driver.mtu"


@record(frozen=True)
class NetworkCreate:
    name: str
    driver: str = "bridge"
    subnet: str | None = None
    gateway: str | None = None
    internal: bool = False
    labels: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)


def now() -> str:
    """UTC with microseconds, as Docker's network Created (time, not datetime: ~1 ms of `run`)."""
    us = time.time_ns() // 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(us // 1_000_000)) + f".{us % 1_000_000:06d}Z"


class NetworkService(Attacher):
    def __init__(self, db: "Database", paths: "Paths") -> None:
        super().__init__(db, paths)

    # -- networks ---------------------------------------------------------------------

    def create(self, req: NetworkCreate) -> rows.NetworkRecord:
        if not is_name(req.name, 1):   # [a-zA-Z0-9][a-zA-Z0-9_.-]*
            raise InvalidArgument(f"invalid network name {req.name!r}: use letters, digits, '_', '.', '-'")
        if req.driver != "bridge":
            raise InvalidArgument(f"network driver {req.driver!r} is not supported (only bridge)")
        if req.gateway and not req.subnet:
            raise InvalidArgument("--gateway needs --subnet")
        if MTU_OPTION in req.options and not str(req.options[MTU_OPTION]).isdigit():
            raise InvalidArgument(f"invalid {MTU_OPTION} {req.options[MTU_OPTION]!r}")
        with self.db.transaction():
            subnet, gateway = self._choose_addresses(req)
            rec = rows.NetworkRecord(os.urandom(32).hex(), req.name, "bridge", str(subnet), str(gateway),
                                     req.subnet is None, req.internal, True, dict(req.labels),
                                     dict(req.options), now())
            rows.insert_network(self.db, rec)
        return rec

    def _choose_addresses(self, req: NetworkCreate) -> tuple[ipam.IPv4Network, ipam.IPv4Address]:
        from krat.net import ipam

        taken = {ipam.IPv4Network(s): n.name for n in rows.list_networks(self.db) if (s := n.subnet)}
        if req.subnet is None:
            subnet = ipam.choose_subnet(list(taken) + self.host_routes())
            return subnet, ipam.default_gateway(subnet)
        subnet = ipam.parse_subnet(req.subnet)
        clash = ipam.overlapping(subnet, taken)
        if clash is not None:
            raise Conflict(f"subnet {subnet} overlaps with network {taken[clash]} ({clash})")
        route = ipam.overlapping(subnet, self.host_routes())
        if route is not None:
            raise Conflict(f"subnet {subnet} overlaps with a route on this host ({route})")
        gateway = ipam.default_gateway(subnet)
        if req.gateway:
            gateway = ipam.parse_address(req.gateway, "gateway")
            ipam.check_in_subnet(gateway, subnet, "gateway")
        return subnet, gateway

    def get(self, ref: str) -> rows.NetworkRecord:
        rec = rows.get_network(self.db, ref)
        if rec is None:
            raise NotFound(f"network {ref} not found")
        return rec

    def list(self) -> list[rows.NetworkRecord]:
        return rows.list_networks(self.db)

    def remove(self, ref: str) -> rows.NetworkRecord:
        rec = self.get(ref)
        if rec.name in PREDEFINED:
            raise Conflict(f"{rec.name} is a pre-defined network and cannot be removed")
        with self.db.transaction():
            users = rows.endpoints_of_network(self.db, rec.id)
            if users:
                names = ", ".join(self.container_name(e.container_id) for e in users)
                raise Conflict(f"network {rec.name} has active endpoints ({names})")
            rows.delete_network(self.db, rec.id)
        self.teardown(rec)
        return rec

    def prune(self) -> list[str]:
        removed = []
        for rec in self.list():
            if rec.name in PREDEFINED or rows.connected_count(self.db, rec.id):
                continue
            try:
                self.remove(rec.id)
            except Conflict:
                continue
            removed.append(rec.name)
        return removed

    def inspect(self, ref: str) -> dict:
        from krat.net import ipam

        rec = self.get(ref)
        containers = {}
        for ep in rows.endpoints_of_network(self.db, rec.id):
            if not ep.ip:
                continue
            prefix = ipam.IPv4Network(rec.subnet).prefixlen if rec.subnet else 32
            containers[ep.container_id] = {
                "Name": self.container_name(ep.container_id), "EndpointID": ep.host_veth or "",
                "MacAddress": ep.mac or "", "IPv4Address": f"{ep.ip}/{prefix}", "IPv6Address": ""}
        ipam_config = [{"Subnet": rec.subnet, "Gateway": rec.gateway}] if rec.subnet else []
        return {
            "Name": rec.name, "Id": rec.id, "Created": rec.created_at, "Scope": "local", "Driver": rec.driver,
            "EnableIPv4": True, "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": {}, "Config": ipam_config},
            "Internal": rec.internal, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
            "ConfigOnly": False, "Containers": containers, "Options": rec.options, "Labels": rec.labels,
        }

    # -- connect / disconnect ----------------------------------------------------------

    def connect(self, ref: str, container_ref: str, aliases: tuple[str, ...] = (), ip: str | None = None) -> None:
        """Connect a container; if it is running, plug it in now (Docker's live connect)."""
        cid = self.resolve_container(container_ref)
        rec = self.get(ref)
        if rec.driver != "bridge":
            raise InvalidArgument(f"container cannot be connected to network {rec.name}")
        name, config = rows.container_config(self.db, cid)
        if config.get("mode") in ("host", "none") or str(config.get("mode", "")).startswith("container:"):
            raise Conflict(f"container {name} uses network mode {config['mode']}: it cannot be connected")
        if ip:
            self.check_ip(rec, ip)
        seq = 1 + max((e.seq for e in rows.endpoints_of_container(self.db, cid)), default=-1)
        rows.add_endpoint(self.db, rows.EndpointRecord(cid, rec.id, seq, tuple(aliases), ip))
        if self.is_attached(cid):
            try:
                self.attach_endpoint(cid, rec.id)
            except BaseException:
                rows.remove_endpoint(self.db, cid, rec.id)
                raise

    def disconnect(self, ref: str, container_ref: str) -> None:
        cid = self.resolve_container(container_ref)
        rec = self.get(ref)
        if not any(e.network_id == rec.id for e in rows.endpoints_of_container(self.db, cid)):
            raise NotFound(f"container {container_ref} is not connected to network {rec.name}")
        self.detach_endpoint(cid, rec.id)
        rows.remove_endpoint(self.db, cid, rec.id)

    def check_ip(self, rec: rows.NetworkRecord, ip: str) -> None:
        from krat.net import ipam

        if not rec.subnet or rec.auto_subnet:
            raise InvalidArgument(f"--ip needs a network created with --subnet (network {rec.name})")
        ipam.check_in_subnet(ipam.parse_address(ip, "--ip"), ipam.IPv4Network(rec.subnet), "--ip")

    def to_json(self, rec: rows.NetworkRecord) -> dict:
        return asdict(rec)

    # -- what inspect, ps and port show about a container -------------------------------

    def mappings(self, cid: str) -> list[ports.PortMapping]:
        from krat.net import ports

        return [ports.PortMapping(p.container_port, p.proto, p.host_ip, p.host_port) for p in rows.ports_of(self.db, cid)]

    def ports_text(self, cid: str) -> str:
        """The PORTS column of `ps` (exposed-only ports included, as Docker)."""
        from krat.net import ports

        got = rows.container_config(self.db, cid)
        exposed = got[1].get("exposed", []) if got else []
        return ports.format_ps(self.mappings(cid), exposed)

    def port_lines(self, cid: str, port_filter: str | None = None) -> list[str]:
        from krat.net import ports

        maps = self.mappings(cid)
        if port_filter:
            port, proto = ports.parse_port_filter(port_filter)
            maps = [m for m in maps if (m.container_port, m.proto) == (port, proto)]
            if not maps:
                raise NotFound(f"no public port '{port}/{proto}' published for {self.container_name(cid)}")
        return ports.format_port_lines(maps)

    def network_names(self, cid: str) -> list[str]:
        """What ps's Networks column shows: the networks' names, or none / host."""
        got = rows.container_config(self.db, cid)
        mode = (got[1] if got else {}).get("mode", "bridge")
        if mode in ("host", "none"):
            return [mode]
        names = []
        for ep in rows.endpoints_of_container(self.db, cid):
            rec = rows.get_network(self.db, ep.network_id)
            if rec is not None:
                names.append(rec.name)
        return names

    def host_config(self, cid: str) -> dict:
        """Docker's HostConfig keys of the network flags, as recorded at create."""
        from krat.net import ports

        got = rows.container_config(self.db, cid)
        config = got[1] if got else {}
        return {"PortBindings": ports.port_bindings(config.get("publish", [])),
                "PublishAllPorts": bool(config.get("publish_all")), "Dns": list(config.get("dns", [])),
                "DnsOptions": list(config.get("dns_options", [])), "DnsSearch": list(config.get("dns_search", []))}

    def network_settings(self, cid: str) -> dict:
        """Docker's NetworkSettings for inspect (with the pre-1.52 top-level fields)."""
        from krat.net import ipam, ports

        got = rows.container_config(self.db, cid)
        config = got[1] if got else {}
        published: dict[str, list | None] = {}
        for key in config.get("exposed", []):
            start, end, proto = ports.parse_exposed(key)
            for port in range(start, end + 1):
                published[f"{port}/{proto}"] = None
        for m in sorted(self.mappings(cid)):
            published.setdefault(f"{m.container_port}/{m.proto}", None)
            published[f"{m.container_port}/{m.proto}"] = (published[f"{m.container_port}/{m.proto}"] or []) + [
                {"HostIp": m.shown_ip, "HostPort": str(m.host_port)}]
        networks = {}
        for ep in rows.endpoints_of_container(self.db, cid):
            rec = rows.get_network(self.db, ep.network_id)
            prefix = ipam.IPv4Network(rec.subnet).prefixlen if rec.subnet and ep.ip else 0
            networks[rec.name] = {
                "IPAMConfig": {"IPv4Address": ep.requested_ip} if ep.requested_ip else None, "Links": None,
                "Aliases": list(ep.aliases) or None, "MacAddress": ep.mac or "", "NetworkID": rec.id,
                "EndpointID": ep.host_veth or "", "Gateway": (rec.gateway or "") if ep.ip else "",
                "IPAddress": ep.ip or "", "IPPrefixLen": prefix, "IPv6Gateway": "", "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0, "DNSNames": ([self.container_name(cid), *ep.aliases, cid[:12]]
                                                       if rec.dns else None)}
        mode = config.get("mode", "bridge")
        if mode in ("host", "none"):
            networks[mode] = {"NetworkID": self.get(mode).id, "IPAddress": "", "Gateway": "", "MacAddress": ""}
        first = next(iter(networks.values()), {})
        path = self.netns_path(cid)
        pinned = os.path.exists(path)
        return {"Bridge": "", "SandboxID": cid if pinned else "", "SandboxKey": path if pinned else "",
                "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
                "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
                "Ports": published, "EndpointID": first.get("EndpointID", ""), "IPAddress": first.get("IPAddress", ""),
                "Gateway": first.get("Gateway", ""), "MacAddress": first.get("MacAddress", ""),
                "IPPrefixLen": first.get("IPPrefixLen", 0), "IPv6Gateway": "", "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0, "Networks": networks}
