"""`krat run`/`create` flags for networks, ports and mounts, in one place.

    from krat.cli import netflags
    netflags.add_arguments(parser)            # -p -P --expose --network-alias --ip --mac-address
                                              # --dns --dns-search --dns-option -v --mount --volumes-from
                                              # (--network, --add-host and --tmpfs are the engine's flags;
                                              #  request_from reads --network and --add-host too)
    request = netflags.request_from(args)     # -> krat.engine.containernet.NetVolRequest (parsed, checked)

Parsing errors are InvalidArgument (one line, exit 125) before anything is created.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser, engine_flags: bool = False) -> None:
    """Our flags; with engine_flags also --network, --add-host and --tmpfs (for standalone use)."""
    add = parser.add_argument
    add("-p", "--publish", action="append", default=[], metavar="[IP:]HOST:CONTAINER[/PROTO]")
    add("-P", "--publish-all", action="store_true")
    add("--expose", action="append", default=[])
    if engine_flags:
        add("--network", "--net", default="bridge")
        add("--add-host", action="append", default=[])
        add("--tmpfs", action="append", default=[])
    add("--network-alias", "--net-alias", action="append", default=[])
    add("--ip")
    add("--mac-address")
    add("--dns", action="append", default=[])
    add("--dns-search", action="append", default=[])
    add("--dns-option", "--dns-opt", action="append", default=[])
    add("-v", "--volume", action="append", default=[])
    add("--mount", action="append", default=[])
    add("--volumes-from", action="append", default=[])


def request_from(args: argparse.Namespace, tmpfs: bool = False):
    """The NetVolRequest of parsed flags; `tmpfs`: also take --tmpfs (when the engine does not)."""
    from krat.engine.containernet import NetVolRequest
    from krat.engine.mountspec import parse_mount, parse_tmpfs, parse_volume
    from krat.engine.netattach import NetworkingRequest
    from krat.net import dns, ports

    for text in args.publish:
        ports.parse_publish(text)  # fail fast, with the flag's own message
    for text in args.dns:
        dns.parse_dns_server(text)
    for text in getattr(args, "add_host", ()) or ():
        dns.parse_add_host(text)
    add_hosts = tuple(getattr(args, "add_host", ()) or ())
    network = NetworkingRequest(getattr(args, "network", "bridge"), tuple(args.network_alias), args.ip,
                                args.mac_address, tuple(args.publish), args.publish_all, tuple(args.dns),
                                tuple(args.dns_search), tuple(args.dns_option), add_hosts)
    mounts = [parse_volume(t) for t in args.volume] + [parse_mount(t) for t in args.mount]
    if tmpfs:
        mounts += [parse_tmpfs(t) for t in getattr(args, "tmpfs", ())]
    return NetVolRequest(network, tuple(mounts), tuple(args.volumes_from), exposed_from(args))


def exposed_from(args: argparse.Namespace) -> tuple[str, ...]:
    """`--expose` as ExposedPorts keys ('80/tcp', '8000-8010/udp'), checked."""
    from krat.net import ports

    out = []
    for text in args.expose:
        spec, _, proto = text.partition("/")
        key = f"{spec}/{(proto or 'tcp').lower()}"
        ports.parse_exposed(key)
        out.append(key)
    return tuple(out)
