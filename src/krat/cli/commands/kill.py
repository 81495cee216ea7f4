"""krat kill: send a signal (default SIGKILL) to containers."""

from __future__ import annotations

HELP = "Kill one or more running containers"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser, for_each
    from krat.engine.containers import ContainerService, signal_number

    p = ArgumentParser("kill")
    p.add_argument("-s", "--signal", default="KILL")
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    signal_number(args.signal)
    svc = ContainerService(ctx.paths)
    return for_each(args.containers, lambda ref: svc.kill(ref, args.signal))
