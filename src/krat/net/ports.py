"""Published ports, pure: parse `-p`/`-P`, pick host ports, group and render mappings.

Ports are published with kernel NAT only (see firewall.py): no proxy process per port,
so a range of a thousand ports costs a thousand small rules, not a thousand processes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from krat.errors import Conflict, InvalidArgument
from krat.oci.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import random

PROTOCOLS = ("tcp", "udp", "sctp")
# Linux's default ip_local_port_range upper part, as Docker uses for random host ports.
RANDOM_RANGE = (49153, 60999)


@record(frozen=True)
class PublishRequest:
    """One `-p` flag: host ports may be a range or 0 (random); container ports a range."""

    host_ip: str
    host_start: int
    host_end: int
    container_start: int
    container_end: int
    proto: str = "tcp"


@record(frozen=True, order=True)
class PortMapping:
    """One published port: host_ip '' means every address of the host (0.0.0.0)."""

    container_port: int
    proto: str
    host_ip: str
    host_port: int

    @property
    def shown_ip(self) -> str:
        return self.host_ip or "0.0.0.0"


def _port(text: str, what: str) -> int:
    if not text.isdigit():
        raise InvalidArgument(f"invalid {what}: {text!r} is not a port number")
    value = int(text)
    if not 0 < value <= 65535:
        raise InvalidArgument(f"invalid {what}: {value} is outside 1-65535")
    return value


def _range(text: str, what: str) -> tuple[int, int]:
    low, dash, high = text.partition("-")
    start = _port(low, what)
    end = _port(high, what) if dash else start
    if end < start:
        raise InvalidArgument(f"invalid {what} range {text!r}: end before start")
    return start, end


def parse_publish(text: str) -> PublishRequest:
    """`[IP:][HOST:]CONTAINER[/proto]` with ranges, as `docker run -p`."""
    spec, _, proto = text.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid protocol in -p {text!r}: expected tcp, udp or sctp")
    if spec.startswith("["):
        raise InvalidArgument(f"invalid -p {text!r}: IPv6 host addresses are not supported")
    parts = spec.rsplit(":", 2)
    host_ip, host = "", ""
    if len(parts) == 3:
        host_ip, host, container = parts
    elif len(parts) == 2:
        host, container = parts
    else:
        container = parts[0]
    if host_ip:
        try:
            addr = ipaddress.ip_address(host_ip)
        except ValueError:
            raise InvalidArgument(f"invalid host IP {host_ip!r} in -p {text!r}") from None
        if addr.version != 4:
            raise InvalidArgument(f"invalid -p {text!r}: IPv6 host addresses are not supported")
        host_ip = "" if addr.is_unspecified else str(addr)
    c_start, c_end = _range(container, "containerPort")
    h_start, h_end = _range(host, "hostPort") if host else (0, 0)
    if host and h_end - h_start != c_end - c_start and c_start != c_end:
        raise InvalidArgument(f"invalid -p {text!r}: host and container port ranges differ in length")
    return PublishRequest(host_ip, h_start, h_end, c_start, c_end, proto)


def port_bindings(texts: list[str] | tuple[str, ...]) -> dict[str, list[dict]]:
    """Docker's HostConfig.PortBindings: the -p flags as asked (a random host port is ""),
    one entry per container port; a host range for one container port stays a range."""
    out: dict[str, list[dict]] = {}
    for text in texts:
        req = parse_publish(text)
        count = req.container_end - req.container_start + 1
        for i in range(count):
            if not req.host_start:
                host = ""
            elif count == 1 and req.host_end != req.host_start:
                host = f"{req.host_start}-{req.host_end}"
            else:
                host = str(req.host_start + i)
            out.setdefault(f"{req.container_start + i}/{req.proto}", []).append({"HostIp": req.host_ip,
                                                                                 "HostPort": host})
    return out


def parse_exposed(key: str) -> tuple[int, int, str]:
    """An image's ExposedPorts key ('80/tcp', '8000-8010/udp') -> (start, end, proto)."""
    spec, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid exposed port {key!r}")
    start, end = _range(spec, "exposed port")
    return start, end, proto


def publish_all(exposed: Iterable[str]) -> list[PublishRequest]:
    """`-P`: every exposed port to a random host port on every address."""
    out = []
    for key in sorted(exposed):
        start, end, proto = parse_exposed(key)
        out.append(PublishRequest("", 0, 0, start, end, proto))
    return out


PortFree = Callable[[str, int, str], bool]


def resolve(requests: Iterable[PublishRequest], is_free: PortFree,
            rng: random.Random | None = None) -> list[PortMapping]:
    """Turn requests into concrete mappings; `is_free(ip, port, proto)` checks the host.

    Explicit host ports that are taken are an error naming the port; random ports are
    drawn from RANDOM_RANGE until a free one is found.
    """
    if rng is None:
        import random  # only when ports are published: every krat run parses this module

        rng = random.Random()
    taken: set[tuple[int, str]] = set()
    out: list[PortMapping] = []

    def free(ip: str, port: int, proto: str) -> bool:
        return (port, proto) not in taken and is_free(ip, port, proto)

    for req in requests:
        for offset, cport in enumerate(range(req.container_start, req.container_end + 1)):
            hport = _choose_host_port(req, offset, free, rng)
            taken.add((hport, req.proto))
            out.append(PortMapping(cport, req.proto, req.host_ip, hport))
    return out


def _choose_host_port(req: PublishRequest, offset: int, free: PortFree, rng: random.Random) -> int:
    where = f"{req.host_ip or '0.0.0.0'}"
    if req.host_start and req.container_start == req.container_end and req.host_end > req.host_start:
        # HOST range to one container port: Docker takes the first free port of the range.
        for port in range(req.host_start, req.host_end + 1):
            if free(req.host_ip, port, req.proto):
                return port
        raise Conflict(f"no free host port in {where}:{req.host_start}-{req.host_end}/{req.proto}")
    if req.host_start:
        port = req.host_start + offset
        if not free(req.host_ip, port, req.proto):
            raise Conflict(f"port is already allocated: {where}:{port}/{req.proto}")
        return port
    low, high = RANDOM_RANGE
    for _ in range(200):
        port = rng.randint(low, high)
        if free(req.host_ip, port, req.proto):
            return port
    raise Conflict(f"no free random host port found for {req.container_start}/{req.proto}")


def overlaps(a: PortMapping, b: PortMapping) -> bool:
    """Two mappings clash when they share port and protocol on a common host address."""
    if a.host_port != b.host_port or a.proto != b.proto:
        return False
    return not a.host_ip or not b.host_ip or a.host_ip == b.host_ip


def groups(mappings: Iterable[PortMapping]) -> list[tuple[PortMapping, int]]:
    """Consecutive mappings (host and container ports both +1) as (first, count) runs."""
    runs: list[tuple[PortMapping, int]] = []
    for m in sorted(mappings, key=lambda m: (m.proto, m.host_ip, m.container_port)):
        if runs:
            first, count = runs[-1]
            if (first.proto, first.host_ip) == (m.proto, m.host_ip) \
                    and m.container_port == first.container_port + count \
                    and m.host_port == first.host_port + count:
                runs[-1] = (first, count + 1)
                continue
        runs.append((m, 1))
    return runs


def _span(start: int, count: int) -> str:
    return f"{start}-{start + count - 1}" if count > 1 else str(start)


def format_ps(mappings: Iterable[PortMapping], exposed: Iterable[str] = ()) -> str:
    """`docker ps` PORTS: '0.0.0.0:8080->80/tcp, 8000-8002/tcp' (ranges grouped)."""
    mappings = list(mappings)
    published = {(m.container_port, m.proto) for m in mappings}
    items = []
    for first, count in groups(mappings):
        items.append((first.container_port, first.proto,
                      f"{first.shown_ip}:{_span(first.host_port, count)}->"
                      f"{_span(first.container_port, count)}/{first.proto}"))
    for key in exposed:
        start, end, proto = parse_exposed(key)
        for port in range(start, end + 1):
            if (port, proto) not in published:
                items.append((port, proto, f"{port}/{proto}"))
    items.sort()
    return ", ".join(text for _, _, text in items)


def format_port_lines(mappings: Iterable[PortMapping]) -> list[str]:
    """`docker port` lines: '80/tcp -> 0.0.0.0:8080'."""
    return [f"{m.container_port}/{m.proto} -> {m.shown_ip}:{m.host_port}" for m in sorted(mappings)]


def parse_port_filter(text: str) -> tuple[int, str]:
    """`krat port NAME 80/tcp` -> (80, 'tcp')."""
    spec, _, proto = text.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid protocol {proto!r}")
    return _port(spec, "port"), proto
