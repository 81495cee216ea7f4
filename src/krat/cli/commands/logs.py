"""krat logs: print a container's logs (json-file), optionally following them."""

from __future__ import annotations

HELP = "Fetch the logs of a container"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser
    from krat.engine.containers import ContainerService
    from krat.engine.logread import LogQuery, follow, read

    p = ArgumentParser("logs")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("--since", default="")
    p.add_argument("--until", default="")
    p.add_argument("-t", "--timestamps", action="store_true")
    p.add_argument("--details", action="store_true")
    p.add_argument("container")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    c = svc.get(args.container)
    query = LogQuery.parse(args.tail, args.since, args.until, args.timestamps)
    if args.follow:
        follow(svc, c, query)
    else:
        read(svc.log_path(c.id), query)
    return 0
