"""The one place the container engine calls for a container's networks and mounts.

    from krat.engine.containernet import ContainerNet, NetVolRequest
    cn = ContainerNet(db, paths)
    cn.create(cid, name, request, image_config)        # `create`: validate + store; raises, leaves nothing
    started = cn.start(cid, hostname, rootfs, uid, gid)  # before the runtime starts the process
    started = cn.start_plain(cid)                       # instead, when cn.is_plain(cid): see there
    config["linux"]["namespaces"]: replace the network entry with started.namespace (drop it if None)
    config["mounts"] += started.mounts
    cn.stop(cid)                                        # after the process exited, and after a failed start
    cn.remove(cid, volumes=rm_v)                        # `rm`
    cn.inspect(cid) -> {"NetworkSettings": ..., "Mounts": ..., "HostConfig": {...}}; cn.ports_text(cid) for ps

`request` comes from `krat run` flags through krat.cli.netflags (or from the REST API's
HostConfig/NetworkingConfig).
"""

from __future__ import annotations

import os

from krat.engine.netrequest import NetVolRequest, NetworkingRequest, is_plain_none, stored_config  # noqa: F401
from krat.oci.records import record

# NetworkService and VolumeService (and with them krat.net, the network and volume rows,
# contextlib, fcntl) load when a container needs them: a plain `--network none` container
# (netrequest.is_plain_none) made and run by this ContainerNet never does.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager as ContextManager

    from krat.db import Database
    from krat.engine.config import Paths
    from krat.engine.networks import NetworkService
    from krat.engine.volumes import VolumeService


@record(frozen=True)
class Started:
    namespace: dict | None               # linux.namespaces network entry; None = host network
    mounts: list[dict]                   # config.json mounts: volumes, binds, tmpfs, /etc/hosts, resolv.conf
    ips: tuple[str, ...] = ()
    volume_mounts: tuple[dict, ...] = ()  # the same without /etc/hosts and /etc/resolv.conf
    hosts: str = ""                      # the texts of those two files, for an engine writing its own
    resolv_conf: str = ""

    def etc_mounts_read_only(self) -> list[dict]:
        """mounts, with /etc/hosts and /etc/resolv.conf bound read-only (for --read-only, as
        Docker binds them then); a volume or bind the user put there keeps its own mode."""
        return [m if m in self.volume_mounts or m["destination"] not in ("/etc/hosts", "/etc/resolv.conf")
                or "ro" in m["options"] else {**m, "options": [*m["options"], "ro"]} for m in self.mounts]


class ContainerNet:
    def __init__(self, db: "Database", paths: "Paths") -> None:
        self.db = db
        self.paths = paths
        self._networks: NetworkService | None = None
        self._volumes: VolumeService | None = None
        # The plain `--network none` containers create() recorded here (is_plain_none): the
        # engine starts them with start_plain() and remove() drops their row alone. In another
        # process (`krat start`, `rm`) such a container takes the general path.
        self._plain: set[str] = set()

    @property
    def networks(self) -> NetworkService:
        if self._networks is None:
            from krat.engine.networks import NetworkService

            self._networks = NetworkService(self.db, self.paths)
        return self._networks

    @property
    def volumes(self) -> VolumeService:
        if self._volumes is None:
            from krat.engine.volumes import VolumeService

            self._volumes = VolumeService(self.db, self.paths)
        return self._volumes

    def create(self, cid: str, name: str, request: NetVolRequest, image_config: dict | None = None) -> None:
        """Validate and record; on any error nothing is left (rows, volumes)."""
        image_config = image_config or {}
        if is_plain_none(request, image_config):  # nothing to validate, no mounts: only the row
            from krat.db import container_networking as rows

            rows.save_container_config(self.db, cid, name, stored_config(request.network, "none"))
            self._plain.add(cid)
            return
        exposed = tuple(dict.fromkeys([*(image_config.get("ExposedPorts") or {}), *request.expose]))
        image_volumes = list((image_config.get("Volumes") or {}).keys())
        volumes_from = [self._volumes_from(ref) for ref in request.volumes_from]
        self.networks.configure(cid, name, request.network, exposed)
        try:
            self.volumes.prepare(cid, list(request.mounts), volumes_from, image_volumes)
        except BaseException:
            self.networks.forget(cid)
            raise

    def _volumes_from(self, ref: str) -> str:
        other, colon, mode = ref.partition(":")
        return self.networks.resolve_container(other) + (colon + mode)

    def start(self, cid: str, hostname: str, rootfs: str | None = None, uid: int = 0, gid: int = 0) -> Started:
        att = self.networks.attach(cid, hostname)
        try:
            mounts = self.volumes.oci_mounts(cid, rootfs, uid, gid)
        except BaseException:
            self.networks.detach(cid)
            raise
        targets = {m["destination"] for m in mounts}
        extra = [m for m in att.oci_mounts() if m["destination"] not in targets]
        return Started(att.oci_namespace(), mounts + extra, att.ips, tuple(mounts),
                       _read(att.hosts_path), _read(att.resolv_conf_path))

    def is_plain(self, cid: str) -> bool:
        """Made by create() here as a plain `--network none` container (see start_plain)."""
        return cid in self._plain

    def start_plain(self, cid: str) -> Started:
        """start() of a plain `--network none` container, in the process that created it: a
        network namespace of its own that the runtime makes, and no mounts: its /etc/hosts and
        /etc/resolv.conf are the engine's own files in the container's directory (which
        inspect shows; bundle.build_context writes them and ocigen binds them). Nothing to
        undo for it but its row (remove)."""
        return Started({"type": "network"}, [])

    def settle(self, cid: str) -> bool:
        """Wait for the network setup start() left running in the background (see
        Attacher.settle); raises if it failed. False: there was none."""
        if not self.pending(cid):
            return False
        self.networks.settle(cid)
        return True

    def pending(self, cid: str) -> bool:
        return self._networks is not None and self._networks.pending(cid)  # not loaded: nothing pending

    def stop(self, cid: str) -> None:
        """After the container exited (and after a failed start): detach, and remove a
        network's bridge, table and DNS responder when this was its last container."""
        self.networks.detach(cid)

    def remove(self, cid: str, volumes: bool = False) -> list[str]:
        if cid in self._plain:  # its row is all there is (and files a `krat start` elsewhere made)
            from krat.db import container_networking as rows
            from krat.runtime.trees import remove_tree

            self._plain.discard(cid)
            rows.forget_container(self.db, cid)
            remove_tree(os.path.join(self.paths.runroot, "netfiles", cid))
            return []
        self.networks.forget(cid)
        return self.volumes.release(cid, remove_anonymous=volumes)

    def rename(self, cid: str, name: str) -> None:
        """A renamed container answers to its new name on its networks at once."""
        from krat.db import networks as rows
        from krat.engine import netdns

        rows.rename_container(self.networks.db, cid, name)
        for ep in rows.endpoints_of_container(self.networks.db, cid):
            rec = rows.get_network(self.networks.db, ep.network_id)
            if ep.ip and rec is not None and rec.dns:
                netdns.refresh(self.networks, rec)

    def ports_text(self, cid: str) -> str:
        return self.networks.ports_text(cid)

    def attachments(self, cid: str) -> tuple[list[str], list[dict]]:
        """The names of the networks a container is on (or its mode: none, host) and its
        mounts as inspect shows them, for ps's Networks, Mounts and LocalVolumes."""
        return self.networks.network_names(cid), self.volumes.inspect_mounts(cid)

    def inspect(self, cid: str) -> dict:
        return {"NetworkSettings": self.networks.network_settings(cid), "Mounts": self.volumes.inspect_mounts(cid),
                "HostConfig": {**self.networks.host_config(cid), **self.volumes.host_config(cid)}}

    def gc(self, claim_idle: Callable[[str], ContextManager[bool]]) -> list[str]:
        """Remove what crashed containers and killed krat processes left in the kernel:
        a container's addresses, veths, namespace pin, files and published-port rules once
        `claim_idle(cid)` says it is neither running nor starting (and holds it so while we
        clean), then the bridge, table and DNS responder of every network nobody is attached
        to. Only objects this storage root recorded are touched, never another root's.
        Returns the ids of the containers that had leftovers (`system prune`, `network prune`)."""
        from krat.db import networks as rows
        from krat.net import firewall

        nets = self.networks
        bridges = [rec for rec in nets.list() if rec.driver == "bridge"]
        owners = {rec.id: firewall.port_owners(firewall.table_name(rec.id)) for rec in bridges}
        suspects = rows.holders(nets.db).union(*owners.values())
        for name in ("netns", "netfiles"):
            folder = os.path.join(nets.paths.runroot, name)
            if os.path.isdir(folder):
                suspects.update(os.listdir(folder))
        cleaned = []
        for cid in sorted(suspects):
            with claim_idle(cid) as idle:
                if not idle:
                    continue
                nets.detach(cid)  # rows say what to undo: ports, veths, leases, namespace, files
                for network_id, found in owners.items():
                    if cid in found:  # a rule whose row is gone
                        firewall.unpublish(firewall.table_name(network_id), cid)
                cleaned.append(cid)
        for rec in bridges:
            with nets.network_lock(rec.id):  # a concurrent first attach brings it up under this lock
                if rows.attached_count(nets.db, rec.id) == 0 and self._has_kernel_objects(rec):
                    nets.teardown(rec)
        self._gc_unknown_networks({rec.id for rec in nets.list()})
        return cleaned

    def _has_kernel_objects(self, rec) -> bool:
        from krat.net import bridge, firewall

        return (bridge.link_exists(bridge.bridge_name(rec.id)) or os.path.exists(self.networks.network_dir(rec.id))
                or firewall.table_exists(firewall.table_name(rec.id)))

    def _gc_unknown_networks(self, known: set[str]) -> None:
        """State folders (and DNS responders) of networks removed while krat was killed."""
        import shutil

        from krat.engine import netdns

        folder = os.path.join(self.networks.paths.runroot, "networks")
        for name in os.listdir(folder) if os.path.isdir(folder) else ():
            path = os.path.join(folder, name)
            if os.path.isdir(path) and name not in known:
                netdns.stop_folder(path)
                shutil.rmtree(path, ignore_errors=True)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()
