"""`krat port CONTAINER [PRIVATE_PORT[/PROTO]]`: a container's published ports."""

from __future__ import annotations

from krat.cli.options import ArgumentParser

HELP = "List port mappings or a specific mapping for the container"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    from krat.db import open_database
    from krat.engine.networks import NetworkService

    p = ArgumentParser("port")
    p.add_argument("container")
    p.add_argument("port", nargs="?")
    args = p.parse_args(argv)
    svc = NetworkService(open_database(ctx.paths.db), ctx.paths)
    cid = svc.resolve_container(args.container)
    lines = svc.port_lines(cid, args.port)
    if args.port:
        lines = [line.split(" -> ", 1)[1] for line in lines]
    for line in lines:
        print(line)
    return 0
