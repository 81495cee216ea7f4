"""`krat load [-i FILE|DIR] [-q]`: images from a docker-archive, OCI archive or OCI dir."""

from __future__ import annotations

import sys
from pathlib import Path

from krat.cli.options import ArgumentParser
from krat.errors import InvalidArgument

HELP = "Load an image from a tar archive or STDIN"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("load", HELP)
    parser.add_argument("-i", "--input", default=None, help="read from a tar archive file or OCI dir, not STDIN")
    parser.add_argument("-q", "--quiet", action="store_true", help="suppress the load output")
    parser.add_argument("--platform", default=None, help="accepted for compatibility")
    args = parser.parse_args(argv)

    from krat.engine.images import ImageService

    images = ImageService(ctx.paths)
    if args.input in (None, "-"):
        if sys.stdin.isatty():
            raise InvalidArgument("requested load from stdin, but stdin is empty (use -i FILE)")
        loaded = images.load(sys.stdin.buffer)
    elif Path(args.input).is_dir():
        loaded = images.load(Path(args.input))
    else:
        try:
            stream = open(args.input, "rb")
        except OSError as err:
            raise InvalidArgument(f"cannot open {args.input}: {err.strerror}") from None
        with stream:
            loaded = images.load(stream)
    if not args.quiet:
        for image, tags in loaded:
            lines = [f"Loaded image: {t}" for t in tags] or [f"Loaded image ID: {image.id}"]
            print("\n".join(lines))
    return 0
