"""What a container asks of networks and mounts: the requests `krat run`/`create` flags (or
the REST API) make, as plain records, and the stored form of the network part.

Light on purpose: parsing flags builds these, and a `--network none` run with no mounts
needs nothing more of the network and volume area (krat.engine.containernet then loads
neither NetworkService nor VolumeService, nor krat.net).
"""

from __future__ import annotations

from krat.oci.records import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.engine.mountspec import MountRequest


@record(frozen=True)
class NetworkingRequest:
    """What `krat run`/`create` flags ask of the network (all strings as typed)."""

    mode: str = "bridge"                 # NAME | bridge | none | host | container:NAME
    aliases: tuple[str, ...] = ()        # --network-alias
    ip: str | None = None                # --ip
    mac: str | None = None               # --mac-address
    publish: tuple[str, ...] = ()        # -p
    publish_all: bool = False            # -P
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    add_hosts: tuple[str, ...] = ()


@record(frozen=True)
class NetVolRequest:
    network: NetworkingRequest = field(default_factory=NetworkingRequest)
    mounts: tuple[MountRequest, ...] = ()
    volumes_from: tuple[str, ...] = ()   # container refs, each optionally ':ro' / ':rw'
    expose: tuple[str, ...] = ()         # --expose PORT[/PROTO][-END], added to the image's ExposedPorts


def stored_config(req: NetworkingRequest, mode: str, exposed: tuple[str, ...] = (),
                  dns_servers: list[str] | tuple[str, ...] = ()) -> dict:
    """The network settings recorded at create (a container_networking row), from a
    validated request; `mode` normalised, `dns_servers` as parsed."""
    return {"mode": mode, "publish": list(req.publish), "publish_all": req.publish_all,
            "exposed": list(exposed), "dns": list(dns_servers), "dns_search": list(req.dns_search),
            "dns_options": list(req.dns_options), "add_hosts": list(req.add_hosts)}


PLAIN_NONE = NetVolRequest(NetworkingRequest("none"))


def is_plain_none(request: NetVolRequest, image_config: dict) -> bool:
    """`--network none` and nothing else of the area: no ports (the image's exposed ones
    included), DNS or hosts flags, mounts or image volumes. Such a container has a row of
    settings and nothing more: its namespace is the runtime's own, its /etc files the
    engine's (see ContainerNet)."""
    return request == PLAIN_NONE and not image_config.get("ExposedPorts") and not image_config.get("Volumes")
