"""krat stop: send the stop signal, then SIGKILL after the timeout."""

from __future__ import annotations

HELP = "Stop one or more running containers"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser, for_each
    from krat.engine.containers import ContainerService

    p = ArgumentParser("stop")
    p.add_argument("-t", "--time", "--timeout", dest="timeout", type=int, default=None)
    p.add_argument("-s", "--signal", default=None)
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    return for_each(args.containers, lambda ref: svc.stop(ref, args.timeout, args.signal))
