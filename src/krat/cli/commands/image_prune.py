"""`krat image prune [-a] [-f]`: remove dangling (with -a: all unused) images."""

from __future__ import annotations

import sys

from krat.cli.options import ArgumentParser

HELP = "Remove unused images"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("image prune", HELP)
    parser.add_argument("-a", "--all", action="store_true", help="remove all images no container uses")
    parser.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    parser.add_argument("--filter", action="append", default=[], help="accepted for compatibility")
    args = parser.parse_args(argv)

    if not args.force:
        what = "all images without at least one container associated to them" if args.all else "all dangling images"
        sys.stdout.write(f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0

    from krat.cli.humanize import human_size
    from krat.engine.images import ImageService

    events, reclaimed = ImageService(ctx.paths).prune(all_images=args.all)
    if events:
        sys.stdout.write("Deleted Images:\n" + "".join(f"{a.lower()}: {w}\n" for a, w in events) + "\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(reclaimed)}\n")
    return 0
