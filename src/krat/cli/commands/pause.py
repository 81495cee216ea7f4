"""krat pause: freeze all processes of containers (cgroup freezer)."""

from __future__ import annotations

HELP = "Pause all processes within one or more containers"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser, for_each
    from krat.engine.containers import ContainerService

    p = ArgumentParser("pause")
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    return for_each(args.containers, svc.pause)
