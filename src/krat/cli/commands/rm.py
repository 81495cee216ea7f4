"""krat rm: remove containers (-f: kill running ones first; -v: their anonymous volumes)."""

from __future__ import annotations

HELP = "Remove one or more containers"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser, for_each
    from krat.engine.containers import ContainerService

    p = ArgumentParser("rm")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-v", "--volumes", action="store_true")
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    return for_each(args.containers, lambda ref: svc.remove(ref, force=args.force, volumes=args.volumes))
