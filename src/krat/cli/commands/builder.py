"""`krat builder prune`: remove the build cache (and layers only it kept)."""

from __future__ import annotations

import sys

from krat.cli.options import ArgumentParser

HELP = "Manage the build cache (krat builder prune)"


def main(ctx, argv: list[str]) -> int:
    p = ArgumentParser("builder", description=HELP)
    sub = p.add_subparsers(dest="verb", required=True)
    prune = sub.add_parser("prune", help="remove build cache entries")
    prune.add_argument("-a", "--all", action="store_true", help="also remove RUN --mount=type=cache directories")
    prune.add_argument("-f", "--force", action="store_true", help="do not ask (krat never asks)")
    prune.add_argument("--filter", action="append", default=[], metavar="until=DURATION")
    args = p.parse_args(argv)
    from krat.build.prune import prune_cache, until_filter

    removed, reclaimed = prune_cache(ctx.paths, until_filter(args.filter), args.all)
    sys.stdout.write(f"Deleted build cache objects: {removed}\nTotal reclaimed space: {_human(reclaimed)}\n")
    return 0


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n}B"
