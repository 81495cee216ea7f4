"""The contents of a container's /etc/hosts and /etc/resolv.conf, pure.

On user-defined networks the container's resolver is krat's DNS responder on the
network's gateway address (see dnsserver.py); on the default bridge, as in Docker, the
container gets the host's resolvers and no name resolution of other containers.
"""

from __future__ import annotations

from krat.errors import InvalidArgument
from krat.oci.records import field, record

# ipaddress (~1-3 ms to import) loads where an address is parsed: a run without --dns or
# --add-host never does.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

HOSTS_HEADER = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
# What Docker writes when the host has no usable (non-loopback) resolver.
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
HOST_GATEWAY = "host-gateway"


@record(frozen=True)
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@record(frozen=True)
class HostEntry:
    address: str
    names: tuple[str, ...] = field(default_factory=tuple)


def parse_add_host(text: str) -> HostEntry:
    """`--add-host NAME:IP` (or NAME=IP, as newer Docker); IP may be `host-gateway`."""
    sep = "=" if "=" in text else ":"
    name, _, addr = text.partition(sep)
    if not name or not addr:
        raise InvalidArgument(f"invalid --add-host {text!r}: expected NAME:IP")
    if addr.startswith("[") and addr.endswith("]"):
        addr = addr[1:-1]
    if addr != HOST_GATEWAY:
        import ipaddress

        try:
            ipaddress.ip_address(addr)
        except ValueError:
            raise InvalidArgument(f"invalid --add-host {text!r}: {addr!r} is not an IP address") from None
    return HostEntry(addr, (name,))


def parse_dns_server(text: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InvalidArgument(f"invalid --dns {text!r}: not an IP address") from None


def hosts_file(hostname: str, addresses: Sequence[str], extra: Iterable[HostEntry] = (),
               gateway: str | None = None, aliases: Iterable[str] = ()) -> str:
    """/etc/hosts: localhost lines, --add-host entries, then the container's own names."""
    lines = [HOSTS_HEADER]
    for entry in extra:
        addr = gateway if entry.address == HOST_GATEWAY else entry.address
        if addr:
            lines.append(f"{addr}\t{' '.join(entry.names)}\n")
    names = " ".join(dict.fromkeys([hostname, *aliases]))
    for addr in addresses:
        lines.append(f"{addr}\t{names}\n")
    return "".join(lines)


def parse_resolv_conf(text: str) -> ResolvConf:
    servers, search, options = [], [], []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split(";", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            servers.append(words[1])
        elif words[0] in ("search", "domain"):
            search = words[1:]
        elif words[0] == "options":
            options.extend(words[1:])
    return ResolvConf(tuple(servers), tuple(search), tuple(options))


def is_loopback(server: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(server.split("%")[0]).is_loopback
    except ValueError:
        return True


def upstream_servers(host: ResolvConf) -> tuple[str, ...]:
    """The host's resolvers reachable from a krat responder in the host's namespace."""
    return host.nameservers


def container_resolv_conf(host: ResolvConf, dns: Sequence[str] = (), search: Sequence[str] = (),
                          options: Sequence[str] = (), embedded: str | None = None) -> str:
    """resolv.conf for a container.

    `embedded` is the responder's address on user networks: it is the only nameserver,
    and the container's --dns servers become its upstreams. Otherwise --dns, else the
    host's non-loopback servers (a loopback resolver is unreachable from the container's
    namespace), else Docker's public fallback.
    """
    if embedded:
        servers: Sequence[str] = (embedded,)
    elif dns:
        servers = dns
    else:
        servers = tuple(s for s in host.nameservers if not is_loopback(s)) or FALLBACK_NAMESERVERS
    lines = [f"nameserver {s}\n" for s in servers]
    chosen_search = tuple(search) or host.search
    if chosen_search:
        lines.append(f"search {' '.join(chosen_search)}\n")
    chosen_options = tuple(options) or host.options
    if embedded:
        # As Docker: a bare name goes to the responder first, not through the host's search list.
        chosen_options = tuple(dict.fromkeys(("ndots:0", *chosen_options)))
    if chosen_options:
        lines.append(f"options {' '.join(chosen_options)}\n")
    return "".join(lines)
