"""The network side of one container: configure (create), attach (start), detach (stop).

Split from networks.py (which owns network objects); NetworkService inherits these.
Every kernel object made here is recorded (lease row, veth name, nft comment) before or
as it is made, so `detach` can always remove exactly what `attach` made, including
after a failure half-way.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os

from krat.db import networks as rows
from krat.engine.netrequest import NetworkingRequest, stored_config
from krat.errors import Conflict, InvalidArgument, NotFound, Unavailable
from krat.net import dns, netns
from krat.oci.records import field, record
from krat.runtime.trees import remove_tree  # not shutil: it loads bz2 and lzma

# bridge, firewall, netdns and socket load where a bridge network or a published port needs
# them: `--network none` and `host` (and `container:`) never do; ipam and ports where an
# address or a port is asked for.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ipaddress
    from collections.abc import Iterator

    from krat.net import ipam, ports

    from krat.db import Database
    from krat.engine.config import Paths

HOST_LOCK = "/run/lock/krat-network.lock"


@record(frozen=True)
class Attachment:
    """What the engine puts into config.json for a started container."""

    netns_path: str | None               # None: share the host's network namespace
    hosts_path: str
    resolv_conf_path: str
    ips: tuple[str, ...] = ()
    ports: tuple[ports.PortMapping, ...] = field(default_factory=tuple)
    private: bool = False                # rootless: a new, empty namespace the runtime makes

    def oci_namespace(self) -> dict | None:
        """The linux.namespaces entry; None means: leave the network namespace out (host)."""
        if self.private:
            return {"type": "network"}
        return {"type": "network", "path": self.netns_path} if self.netns_path else None

    def oci_mounts(self) -> list[dict]:
        return [{"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]}
                for dest, src in (("/etc/hosts", self.hosts_path), ("/etc/resolv.conf", self.resolv_conf_path))]


class Attacher:
    def __init__(self, db: "Database", paths: "Paths") -> None:
        self.db = db
        self.paths = paths
        self._pending: dict[str, list] = {}   # container id -> bridge.PendingPlug (see settle)

    # -- where things live -------------------------------------------------------------

    def netns_path(self, cid: str) -> str:
        return os.path.join(self.paths.runroot, "netns", cid)

    def files_dir(self, cid: str) -> str:
        return os.path.join(self.paths.runroot, "netfiles", cid)

    def network_dir(self, network_id: str) -> str:
        return os.path.join(self.paths.runroot, "networks", network_id)

    def network_lock(self, network_id: str) -> contextlib.AbstractContextManager[None]:
        """Held while a network's kernel objects are brought up or torn down."""
        return self._lock(self.network_dir(network_id) + ".lock")

    @contextlib.contextmanager
    def _lock(self, path: str) -> Iterator[None]:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def host_routes(self) -> list[ipaddress.IPv4Network]:
        from krat.net import bridge

        return bridge.host_routes()

    # -- containers ----------------------------------------------------------------------

    def resolve_container(self, ref: str) -> str:
        row = self.db.query_one("SELECT container_id FROM container_networking WHERE name = ? OR container_id = ?",
                                (ref, ref))
        if row is None and ref and all(c in "0123456789abcdef" for c in ref):
            found = self.db.query("SELECT container_id FROM container_networking WHERE container_id LIKE ? LIMIT 2",
                                  (ref + "%",))
            row = found[0] if len(found) == 1 else None
        if row is None:
            raise NotFound(f"no such container: {ref}")
        return row[0]

    def container_name(self, cid: str) -> str:
        got = rows.container_config(self.db, cid)
        return got[0] if got else cid[:12]

    def is_attached(self, cid: str) -> bool:
        return os.path.exists(self.netns_path(cid)) or any(e.ip for e in rows.endpoints_of_container(self.db, cid))

    # -- create --------------------------------------------------------------------------

    def configure(self, cid: str, name: str, req: NetworkingRequest, exposed: tuple[str, ...] = ()) -> None:
        """Validate the request and store it; raises before anything exists on bad input."""
        if req.publish or exposed:
            from krat.net import ports

            for text in req.publish:
                ports.parse_publish(text)
            for key in exposed:
                ports.parse_exposed(key)
        dns_servers = [dns.parse_dns_server(s) for s in req.dns]
        for text in req.add_hosts:
            dns.parse_add_host(text)
        mac = None
        if req.mac:
            from krat.net import ipam

            mac = ipam.parse_mac(req.mac)
        mode = "bridge" if req.mode in ("", "default") else req.mode
        config = stored_config(req, mode, exposed, dns_servers)
        endpoint = None
        if mode.startswith("container:"):
            config["container"] = self.resolve_container(mode.split(":", 1)[1])
        elif mode not in ("host", "none"):
            rec = self.get(mode)  # type: ignore[attr-defined]
            if rec.driver in ("host", "null"):
                config["mode"] = mode = "host" if rec.driver == "host" else "none"
            else:
                endpoint = self._endpoint_request(cid, rec, req, mac)
        if mode != "bridge" and endpoint is None and (req.ip or req.aliases or req.mac):
            raise InvalidArgument(f"--ip, --mac-address and --network-alias need a bridge network, not {mode}")
        if (req.publish or req.publish_all) and (mode == "none" or mode.startswith("container:")):
            raise InvalidArgument(f"conflicting options: port publishing and network mode {mode}")
        with self.db.transaction():
            rows.save_container_config(self.db, cid, name, config)
            if endpoint is not None:
                rows.add_endpoint(self.db, endpoint)

    def _endpoint_request(self, cid: str, rec: rows.NetworkRecord, req: NetworkingRequest,
                          mac: str | None) -> rows.EndpointRecord:
        if rec.name == "bridge" and (req.ip or req.aliases):
            raise InvalidArgument("--ip and --network-alias are supported on user-defined networks only")
        if req.ip:
            self.check_ip(rec, req.ip)  # type: ignore[attr-defined]
        return rows.EndpointRecord(cid, rec.id, 0, tuple(req.aliases), req.ip, mac)

    # -- start ---------------------------------------------------------------------------

    def attach(self, cid: str, hostname: str) -> Attachment:
        got = rows.container_config(self.db, cid)
        if got is None:
            self.configure(cid, cid[:12], NetworkingRequest())
            got = rows.container_config(self.db, cid)
        _, config = got
        mode = config["mode"]
        files = self.files_dir(cid)
        if self.is_attached(cid):
            self.detach(cid)  # leftovers of a run that was killed before it could clean up
        if self.paths.rootless and mode != "host":
            return self._rootless(cid, hostname, config)
        if mode == "none":
            return self._private(cid, hostname, config)
        from krat.net import ports

        try:
            if mode == "host":
                ns_path, ips = None, ()
                hosts = _read("/etc/hosts") + dns.hosts_file(hostname, [], self._extra_hosts(config, None))[
                    len(dns.HOSTS_HEADER):]
                resolv = _read("/etc/resolv.conf")
            elif mode.startswith("container:"):
                return self._join(cid, config["container"])
            else:
                ns_path, ips = self._plug_all(cid, config)
                hosts, resolv = self._files(cid, hostname, config)
            os.makedirs(files, exist_ok=True)
            _write(os.path.join(files, "hosts"), hosts)
            _write(os.path.join(files, "resolv.conf"), resolv)
            mapped = tuple(ports.PortMapping(p.container_port, p.proto, p.host_ip, p.host_port)
                           for p in rows.ports_of(self.db, cid))
        except BaseException:
            self.detach(cid)
            raise
        return Attachment(ns_path, os.path.join(files, "hosts"), os.path.join(files, "resolv.conf"),
                          tuple(ips), mapped)

    def _rootless(self, cid: str, hostname: str, config: dict) -> Attachment:
        """Without root krat makes no bridges: `none` works (the runtime's own namespace);
        anything needing a bridge is refused with a clear message instead of half-working."""
        if config["mode"] != "none" or config["publish"] or config["publish_all"]:
            raise Unavailable(f"network {config['mode']} needs root (krat has no rootless networking yet); "
                              "use --network none or --network host")
        return self._private(cid, hostname, config)

    def _private(self, cid: str, hostname: str, config: dict) -> Attachment:
        """`--network none`: a new namespace with only `lo`, made by the runtime itself as the
        container starts (nothing to create here, nothing to remove after)."""
        files = self.files_dir(cid)
        os.makedirs(files, exist_ok=True)
        hosts, resolv = os.path.join(files, "hosts"), os.path.join(files, "resolv.conf")
        _write(hosts, dns.hosts_file(hostname, [], self._extra_hosts(config, None)))
        _write(resolv, _read("/etc/resolv.conf"))
        return Attachment(None, hosts, resolv, private=True)

    def _join(self, cid: str, other: str) -> Attachment:
        pinned = self.netns_path(other)
        path = pinned if os.path.exists(pinned) else self._private_netns(other)
        if path is None:
            raise Conflict(f"cannot join the network of container {self.container_name(other)}: it is not running")
        src = self.files_dir(other)
        if not os.path.isdir(src):  # a `--network none` container using the engine's own files (start_plain)
            src = os.path.join(self.paths.containers, other)
        return Attachment(path, os.path.join(src, "hosts"), os.path.join(src, "resolv.conf"))

    def _private_netns(self, cid: str) -> str | None:
        """The namespace of a running `--network none` container: its process's own."""
        from krat.db import containers

        got = rows.container_config(self.db, cid)
        row = containers.get(self.db, cid)
        if got is None or got[1]["mode"] != "none" or row is None or row.status not in ("running", "paused") or not row.pid:
            return None
        return f"/proc/{row.pid}/ns/net"

    def _plug_all(self, cid: str, config: dict) -> tuple[str, list[str]]:
        path = self.netns_path(cid)
        netns.delete(path)  # a leftover of a killed run
        endpoints = rows.endpoints_of_container(self.db, cid)
        if not endpoints:
            netns.create(path, lo_up=True)
        ips = []
        for index, ep in enumerate(endpoints):
            ips.append(self._plug(cid, ep, path, index, defer=True))
            if index == 0 and (config["publish"] or config["publish_all"]):
                self._publish(cid, ep.network_id, ips[0], config)
        return path, ips

    def settle(self, cid: str) -> None:
        """Wait for the veths attach() left plugging in the background; raises if one failed
        (the caller then stops the start, and detach() removes what was made)."""
        pending = self._pending.pop(cid, [])
        try:
            for plug in pending:
                plug.wait()
        finally:
            for plug in pending:
                plug.cancel()

    def pending(self, cid: str) -> bool:
        return bool(self._pending.get(cid))

    def attach_endpoint(self, cid: str, network_id: str) -> None:
        """Plug a running container into one more network (`network connect`)."""
        eps = rows.endpoints_of_container(self.db, cid)
        index = [e.network_id for e in eps].index(network_id)
        self._plug(cid, eps[index], self.netns_path(cid), index)

    def _plug(self, cid: str, ep: rows.EndpointRecord, path: str, index: int, defer: bool = False) -> str:
        """Lease an address and plug a veth in. The network lock covers bring-up, the lease
        and the DNS table, not the device work: once our lease is committed no concurrent
        last-detach can remove the bridge, so parallel runs make their veths in parallel."""
        from krat.net import bridge, ipam

        with self.network_lock(ep.network_id):
            rec = self._bring_up(rows.get_network(self.db, ep.network_id))
            ip, mac, veth = self._lease(cid, ep, rec)
        subnet = ipam.IPv4Network(rec.subnet)
        gateway = None if rec.internal or index else rec.gateway
        mtu = int(rec.options.get("com.docker.network.driver.mtu", bridge.DEFAULT_MTU))
        iface = bridge.Interface(bridge.bridge_name(rec.id), veth, f"eth{index}", ip, subnet.prefixlen, mac,
                                 gateway, mtu)
        if os.path.exists(path):
            bridge.attach(path, iface)
        else:
            netns.create(path, lo_up=True)
            if defer:   # its first veth in the background: the runtime creates the container
                # meanwhile, and settle() waits for the plug before the container starts
                self._pending.setdefault(cid, []).append(bridge.attach_started(path, iface))
            else:
                bridge.attach(path, iface, first=False)
        if rec.dns:   # user networks: the default bridge resolves no names
            from krat.engine import netdns

            with self.network_lock(ep.network_id):
                netdns.refresh(self, rec)
        return ip

    def _lease(self, cid: str, ep: rows.EndpointRecord, rec: rows.NetworkRecord) -> tuple[str, str, str]:
        from krat.net import bridge, ipam

        subnet = ipam.IPv4Network(rec.subnet)
        veth = bridge.veth_name(cid)
        with self.db.transaction():
            used = {ipam.IPv4Address(a) for a in rows.used_ips(self.db, rec.id) if a != ep.requested_ip}
            used.add(ipam.IPv4Address(rec.gateway))
            ip = ipam.IPv4Address(ep.requested_ip) if ep.requested_ip else ipam.allocate(subnet, used)
            if ip in used:
                raise Conflict(f"address {ip} is already in use on network {rec.name}")
            mac = ep.requested_mac or ipam.mac_for(ip)
            rows.lease(self.db, cid, rec.id, str(ip), mac, veth)  # recorded before the device exists
        return str(ip), mac, veth

    def _bring_up(self, rec: rows.NetworkRecord) -> rows.NetworkRecord:
        from krat.net import bridge, firewall, ipam

        name = bridge.bridge_name(rec.id)
        if bridge.link_exists(name):
            return rec
        with self._lock(HOST_LOCK if os.access(os.path.dirname(HOST_LOCK), os.W_OK)
                        else os.path.join(self.paths.runroot, "host.lock")):
            routes = self.host_routes()
            current = ipam.IPv4Network(rec.subnet) if rec.subnet else None
            clash = ipam.overlapping(current, routes) if current else None
            if current is None or (clash is not None and rec.auto_subnet):
                others = [ipam.IPv4Network(s) for s in rows.subnets_in_use(self.db) if s != rec.subnet]
                current = ipam.choose_subnet(others + routes, default_network=rec.name == "bridge")
                rows.set_subnet(self.db, rec.id, str(current), str(ipam.default_gateway(current)))
                rec = rows.get_network(self.db, rec.id)
            elif clash is not None:
                raise Conflict(f"subnet {current} of network {rec.name} overlaps with a route on this host ({clash})")
            mtu = int(rec.options.get("com.docker.network.driver.mtu", bridge.DEFAULT_MTU))
            try:
                rules = firewall.NetworkRules(firewall.table_name(rec.id), name, str(current), rec.internal)
                bridge.ensure_bridge(name, rec.gateway, current.prefixlen, mtu,
                                     firewall.render_network(rules, fresh=True), firewall.render_network(rules))
            except BaseException:
                self.teardown(rec)
                raise
        return rec

    def _publish(self, cid: str, network_id: str, ip: str, config: dict) -> None:
        from krat.net import firewall, ports

        requests = [ports.parse_publish(t) for t in config["publish"]]
        if config["publish_all"]:
            requests += ports.publish_all(config["exposed"])
        with self.db.transaction():
            existing = [ports.PortMapping(r.container_port, r.proto, r.host_ip, r.host_port)
                        for r in rows.all_ports(self.db)]

            def is_free(host_ip: str, port: int, proto: str) -> bool:
                probe = ports.PortMapping(0, proto, host_ip, port)
                return not any(ports.overlaps(probe, m) for m in existing) and host_port_free(host_ip, port, proto)

            mapped = ports.resolve(requests, is_free)
            rows.add_ports(self.db, [rows.PortRow(cid, network_id, m.host_ip, m.host_port, m.container_port,
                                                  m.proto) for m in mapped])
        firewall.publish(firewall.table_name(network_id), cid, ip, mapped)
        if any(m.proto == "udp" for m in mapped):
            from krat.net import conntrack  # only runs that publish UDP pay for it

            conntrack.flush_udp(mapped)

    def _extra_hosts(self, config: dict, gateway: str | None) -> list[dns.HostEntry]:
        return [dns.parse_add_host(t) for t in config["add_hosts"]]

    def _files(self, cid: str, hostname: str, config: dict) -> tuple[str, str]:
        eps = [e for e in rows.endpoints_of_container(self.db, cid) if e.ip]
        nets = [rows.get_network(self.db, e.network_id) for e in eps]
        gateway = nets[0].gateway if nets else None
        hosts = dns.hosts_file(hostname, [e.ip for e in eps], self._extra_hosts(config, gateway), gateway)
        embedded = next((n.gateway for n in nets if n.dns), None)
        host_conf = dns.parse_resolv_conf(_read("/etc/resolv.conf"))
        resolv = dns.container_resolv_conf(host_conf, () if embedded else config["dns"], config["dns_search"],
                                           config["dns_options"], embedded)
        return hosts, resolv

    # -- stop ----------------------------------------------------------------------------

    def detach(self, cid: str) -> None:
        """Undo attach; safe to call any number of times and after a partial attach.

        The veths go with the namespace: they are taken out of their bridge and down at once
        (bridge.unplug), then the pin (the bind mount) is dropped and the kernel removes the
        namespace with its devices, a veth's host end included, in a worker of its own: 1 ms
        later, or 50 when containers end one after another. `ip link del` waited 10-40 ms for
        RCU grace periods; waiting for the worker, as krat did, cost up to 20 ms of each
        `run --rm` in a loop. When a `--network container:` guest shares the namespace, the
        veth is deleted explicitly."""
        for plug in self._pending.pop(cid, []):
            plug.cancel()   # its veth must exist (or have failed) before it can be removed
        for network_id in {p.network_id for p in rows.ports_of(self.db, cid)}:
            from krat.net import firewall

            firewall.unpublish(firewall.table_name(network_id), cid)
        rows.remove_ports(self.db, cid)
        endpoints = [ep for ep in rows.endpoints_of_container(self.db, cid) if ep.ip or ep.host_veth]
        veths = [ep.host_veth for ep in endpoints if ep.host_veth]
        path = self.netns_path(cid)
        alone = os.path.exists(path) and not rows.joined_by(self.db, cid)
        unplugging = None
        if veths and alone:
            from krat.net import bridge

            present = [v for v in veths if bridge.link_exists(v)]
            unplugging = bridge.unplug(present) if present else None   # deleted with the namespace
        netns.delete(path)
        try:
            for ep in endpoints:
                self.detach_endpoint(cid, ep.network_id, unplug=False)
            remove_tree(self.files_dir(cid))
        finally:
            if unplugging is not None:
                unplugging.wait()   # out of the bridge when detach returns
            if veths and not alone:   # a --network container: guest keeps the namespace (or it is gone)
                from krat.net import bridge

                for name in veths:
                    bridge.delete_link(name)

    def detach_endpoint(self, cid: str, network_id: str, unplug: bool = True) -> None:
        """Unplug one network (unplug=False: the caller sees to the veth; the address is then
        released while it may still live in a namespace that is being removed)."""
        from krat.engine import netdns
        from krat.net import bridge

        ep = next((e for e in rows.endpoints_of_container(self.db, cid) if e.network_id == network_id), None)
        if unplug and ep is not None and ep.host_veth:
            bridge.delete_link(ep.host_veth)  # our own device: no lock needed, and it is the slow part
        with self.network_lock(network_id):
            rows.release(self.db, cid, network_id)
            rec = rows.get_network(self.db, network_id)
            if rec is None:
                return
            if rows.attached_count(self.db, network_id) == 0:
                self.teardown(rec)
            elif rec.dns:
                netdns.refresh(self, rec)

    def teardown(self, rec: rows.NetworkRecord) -> None:
        """Remove a network's kernel objects and helper (idempotent)."""
        from krat.engine import netdns
        from krat.net import bridge, firewall

        netdns.stop(self, rec)
        bridge.delete_with(bridge.bridge_name(rec.id), firewall.teardown_script(firewall.table_name(rec.id)))
        remove_tree(self.network_dir(rec.id))

    def forget(self, cid: str) -> None:
        """`rm`: detach and drop every row of the container."""
        self.detach(cid)
        rows.forget_container(self.db, cid)


def host_port_free(host_ip: str, port: int, proto: str) -> bool:
    """Nothing on the host holds the port (a bound socket); checked before the container starts."""
    import socket

    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind((host_ip or "0.0.0.0", port))
        except OSError as err:
            if err.errno == errno.EADDRNOTAVAIL:
                raise InvalidArgument(f"cannot publish on {host_ip}: not an address of this host") from None
            return False
    return True


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
