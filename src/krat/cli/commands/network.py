"""`krat network create|ls|inspect|rm|prune|connect|disconnect`."""

from __future__ import annotations


from krat.cli.options import ArgumentParser
from krat.errors import InvalidArgument

HELP = "Manage networks"

USAGE = """\
Usage: krat network COMMAND

Commands:
  connect     Connect a container to a network
  create      Create a network
  disconnect  Disconnect a container from a network
  inspect     Show details of one or more networks
  ls          List networks
  prune       Remove all unused networks
  rm          Remove one or more networks
"""


def service(ctx):
    from krat.db import open_database
    from krat.engine.networks import NetworkService

    return NetworkService(open_database(ctx.paths.db), ctx.paths)


def key_values(items: list[str], what: str) -> dict:
    out = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def create(ctx, argv: list[str]) -> int:
    from krat.engine.networks import NetworkCreate

    p = ArgumentParser("network create")
    p.add_argument("name")
    p.add_argument("-d", "--driver", default="bridge")
    p.add_argument("--subnet")
    p.add_argument("--gateway")
    p.add_argument("--internal", action="store_true")
    p.add_argument("--label", action="append")
    p.add_argument("-o", "--opt", action="append")
    p.add_argument("--attachable", action="store_true", help="accepted: every krat network is attachable")
    p.add_argument("--ipv6", action="store_true")
    args = p.parse_args(argv)
    if args.ipv6:
        raise InvalidArgument("network create --ipv6: IPv6 networks are not supported by krat")
    rec = service(ctx).create(NetworkCreate(args.name, args.driver, args.subnet, args.gateway, args.internal,
                                            key_values(args.label, "label"), key_values(args.opt, "option")))
    print(rec.id)
    return 0


def ls(ctx, argv: list[str]) -> int:
    p = ArgumentParser("network ls")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("--format")
    args = p.parse_args(argv)
    nets = service(ctx).list()
    if args.quiet:
        for n in nets:
            print(n.id if args.no_trunc else n.id[:12])
        return 0
    if args.format:
        from krat.cli.tables import format_rows

        rows = [{"ID": n.id if args.no_trunc else n.id[:12], "Name": n.name, "Driver": n.driver, "Scope": "local",
                 "Internal": str(n.internal).lower(), "IPv4": "true", "IPv6": "false", "Labels": ",".join(f"{k}={v}" for k, v in n.labels.items()),
                 "CreatedAt": n.created_at} for n in nets]
        headers = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE"}
        print(format_rows(args.format, headers, rows), end="")
        return 0
    from krat.cli.humanize import table

    rows = [["NETWORK ID", "NAME", "DRIVER", "SCOPE"]]
    rows += [[n.id if args.no_trunc else n.id[:12], n.name, n.driver, "local"] for n in nets]
    print(table(rows), end="")
    return 0


def inspect(ctx, argv: list[str]) -> int:
    p = ArgumentParser("network inspect")
    p.add_argument("networks", nargs="+")
    p.add_argument("-f", "--format")
    args = p.parse_args(argv)
    from krat.cli.tables import print_inspect

    return print_inspect(args.networks, service(ctx).inspect, args.format)


def rm(ctx, argv: list[str]) -> int:
    p = ArgumentParser("network rm")
    p.add_argument("networks", nargs="+")
    p.add_argument("-f", "--force", action="store_true")
    args = p.parse_args(argv)
    from krat.cli.options import remove_each

    svc = service(ctx)
    return remove_each(args.networks, svc.remove)


def prune(ctx, argv: list[str]) -> int:
    p = ArgumentParser("network prune")
    p.add_argument("-f", "--force", action="store_true")
    p.parse_args(argv)
    from krat.engine.containers import ContainerService

    svc = service(ctx)
    ContainerService(ctx.paths, svc.db).collect_network_garbage()  # crashed containers' leftovers first
    removed = svc.prune()
    if removed:
        print("Deleted Networks:")
        for name in removed:
            print(name)
    return 0


def connect(ctx, argv: list[str]) -> int:
    p = ArgumentParser("network connect")
    p.add_argument("network")
    p.add_argument("container")
    p.add_argument("--alias", action="append", default=[])
    p.add_argument("--ip")
    args = p.parse_args(argv)
    service(ctx).connect(args.network, args.container, tuple(args.alias), args.ip)
    return 0


def disconnect(ctx, argv: list[str]) -> int:
    p = ArgumentParser("network disconnect")
    p.add_argument("network")
    p.add_argument("container")
    p.add_argument("-f", "--force", action="store_true")
    args = p.parse_args(argv)
    service(ctx).disconnect(args.network, args.container)
    return 0


SUBCOMMANDS = {"create": create, "ls": ls, "list": ls, "inspect": inspect, "rm": rm, "remove": rm,
               "prune": prune, "connect": connect, "disconnect": disconnect}


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import run_subcommand

    return run_subcommand("network", USAGE, SUBCOMMANDS, ctx, argv)
