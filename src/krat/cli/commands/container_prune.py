"""krat container prune: remove all stopped containers."""

from __future__ import annotations

HELP = "Remove all stopped containers"


def main(ctx, argv: list[str]) -> int:
    import sys

    from krat.cli.options import ArgumentParser
    from krat.engine.containers import ContainerService
    from krat.engine.filters import ContainerFilter

    p = ArgumentParser("container prune")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--filter", action="append", default=[])
    args = p.parse_args(argv)
    filt = ContainerFilter.parse([f for f in args.filter if not f.startswith("until=")])
    if not args.force and sys.stdin.isatty():
        sys.stdout.write("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed = ContainerService(ctx.paths).prune(keep=lambda c, everyone: not filt.matches(c, everyone))
    print("Deleted Containers:")
    for cid in removed:
        print(cid)
    print("\nTotal reclaimed space: 0B")
    return 0
