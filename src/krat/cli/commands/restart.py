"""krat restart: stop, then start."""

from __future__ import annotations

HELP = "Restart one or more containers"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser, for_each
    from krat.engine.containers import ContainerService

    p = ArgumentParser("restart")
    p.add_argument("-t", "--time", "--timeout", dest="timeout", type=int, default=None)
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    return for_each(args.containers, lambda ref: svc.restart(ref, args.timeout))
