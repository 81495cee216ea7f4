"""`krat run`/`create` flags for networks, ports and mounts, in one place.

    from krat.cli import netflags
    netflags.FLAGS                            # -p -P --expose --network-alias --ip --mac-address
                                              # --dns --dns-search --dns-option -v --mount --volumes-from,
                                              # as krat.cli.flags rows (add_arguments: on an argparse parser)
                                              # (--network, --add-host and --tmpfs are the engine's flags,
                                              #  ENGINE_FLAGS; request_from reads --network and --add-host too)
    request = netflags.request_from(args)     # -> krat.engine.netrequest.NetVolRequest (parsed, checked)

Parsing errors are InvalidArgument (one line, exit 125) before anything is created.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

# Rows of krat.cli.flags tables: (names, kind, default, metavar, help).
FLAGS = (
    ("-p --publish", "list", (), "[IP:]HOST:CONTAINER[/PROTO]", "Publish a container's port to the host"),
    ("-P --publish-all", "bool", False, "", "Publish every exposed port to a random host port"),
    ("--expose", "list", (), "PORT[/PROTO]", "Expose a port or a range of ports"),
    ("--network-alias --net-alias", "list", (), "NAME", "Add a network-scoped alias for the container"),
    ("--ip", "str", None, "ADDRESS", "IPv4 address on the network"),
    ("--mac-address", "str", None, "ADDRESS", "MAC address of the container's interface"),
    ("--dns", "list", (), "ADDRESS", "Use this DNS server"),
    ("--dns-search", "list", (), "DOMAIN", "Add a DNS search domain"),
    ("--dns-option --dns-opt", "list", (), "OPTION", "Add a resolv.conf option"),
    ("-v --volume", "list", (), "[SOURCE:]TARGET[:OPTIONS]", "Bind mount a host path or a named volume"),
    ("--mount", "list", (), "type=TYPE,target=PATH,...", "Attach a filesystem mount"),
    ("--volumes-from", "list", (), "CONTAINER[:ro|rw]", "Mount the volumes of another container"),
)

# The engine's own networking flags, which `krat run` defines among its other flags.
ENGINE_FLAGS = (
    ("--network --net", "str", "bridge", "NETWORK",
     "Connect to a network: bridge (default), none, host, container:NAME, or a network's name"),
    ("--add-host", "list", (), "HOST:IP", "Add a line to /etc/hosts"),
    ("--tmpfs", "list", (), "PATH[:OPTIONS]", "Mount a tmpfs directory"),
)


def add_arguments(parser: argparse.ArgumentParser, engine_flags: bool = False) -> None:
    """Our flags on an argparse parser; with engine_flags also --network, --add-host and
    --tmpfs (for standalone use). `krat run` reads FLAGS through krat.cli.flags instead."""
    from krat.cli.flags import add_to_argparse

    add_to_argparse(parser, FLAGS + ENGINE_FLAGS if engine_flags else FLAGS)


def request_from(args, tmpfs: bool = False):
    """The NetVolRequest of parsed flags; `tmpfs`: also take --tmpfs (when the engine does not)."""
    from krat.engine.netrequest import NetVolRequest, NetworkingRequest

    # the port, DNS and mount parsers load for the flags that use them (not for `--network none`)
    if args.publish:
        from krat.net import ports

        for text in args.publish:
            ports.parse_publish(text)  # fail fast, with the flag's own message
    if args.dns or getattr(args, "add_host", ()):
        from krat.net import dns

        for text in args.dns:
            dns.parse_dns_server(text)
        for text in getattr(args, "add_host", ()) or ():
            dns.parse_add_host(text)
    add_hosts = tuple(getattr(args, "add_host", ()) or ())
    network = NetworkingRequest(getattr(args, "network", "bridge"), tuple(args.network_alias), args.ip,
                                args.mac_address, tuple(args.publish), args.publish_all, tuple(args.dns),
                                tuple(args.dns_search), tuple(args.dns_option), add_hosts)
    mounts = []
    if args.volume or args.mount or tmpfs and getattr(args, "tmpfs", ()):
        from krat.engine.mountspec import parse_mount, parse_tmpfs, parse_volume

        mounts = [parse_volume(t) for t in args.volume] + [parse_mount(t) for t in args.mount]
        if tmpfs:
            mounts += [parse_tmpfs(t) for t in getattr(args, "tmpfs", ())]
    return NetVolRequest(network, tuple(mounts), tuple(args.volumes_from), exposed_from(args))


def exposed_from(args) -> tuple[str, ...]:
    """`--expose` as ExposedPorts keys ('80/tcp', '8000-8010/udp'), checked."""
    out = []
    for text in args.expose:
        from krat.net import ports

        spec, _, proto = text.partition("/")
        key = f"{spec}/{(proto or 'tcp').lower()}"
        ports.parse_exposed(key)
        out.append(key)
    return tuple(out)
