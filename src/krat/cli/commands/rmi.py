"""`krat rmi [-f] IMAGE...`: untag, and delete images nothing else names or uses."""

from __future__ import annotations

import sys

from krat.cli.options import ArgumentParser
from krat.errors import KratError

HELP = "Remove one or more images"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("rmi", HELP)
    parser.add_argument("-f", "--force", action="store_true",
                        help="remove every tag of the image, even while containers use it")
    parser.add_argument("--no-prune", action="store_true", help="accepted for compatibility")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    args = parser.parse_args(argv)

    from krat.engine.images import ImageService

    images = ImageService(ctx.paths)
    failed: KratError | None = None
    for ref in args.images:
        try:
            events = images.remove(ref, force=args.force)
        except KratError as err:
            if len(args.images) == 1:
                raise
            sys.stderr.write(f"Error: {err.message}\n")
            failed = err
            continue
        sys.stdout.write("".join(f"{action}: {what}\n" for action, what in events))
    return failed.exit_code if failed else 0
