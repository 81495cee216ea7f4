"""krat rename: give a container a new name."""

from __future__ import annotations

HELP = "Rename a container"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser
    from krat.engine.containers import ContainerService

    p = ArgumentParser("rename")
    p.add_argument("container")
    p.add_argument("new_name")
    args = p.parse_args(argv)
    ContainerService(ctx.paths).rename(args.container, args.new_name)
    return 0
