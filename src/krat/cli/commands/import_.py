"""`krat import [OPTIONS] FILE|- [REPOSITORY[:TAG]]`: a root filesystem tarball -> an image."""

from __future__ import annotations

import sys

from krat.cli.options import ArgumentParser
from krat.errors import InvalidArgument

HELP = "Import the contents from a tarball to create a filesystem image"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("import", HELP)
    parser.add_argument("-c", "--change", action="append", default=[],
                        help="apply a Dockerfile instruction (CMD, ENV, WORKDIR, ...) to the image")
    parser.add_argument("-m", "--message", default="", help="commit message for the imported image")
    parser.add_argument("--platform", default=None, help="accepted for compatibility (linux/amd64)")
    parser.add_argument("file", help="the tarball (plain, gzip or zstd), or - for stdin")
    parser.add_argument("reference", nargs="?", help="REPOSITORY[:TAG] to tag the image with")
    args = parser.parse_args(argv)

    from krat.engine.images import ImageService

    images = ImageService(ctx.paths)
    if args.file == "-":
        image = images.import_rootfs(sys.stdin.buffer, args.reference, args.change, args.message, "-")
    else:
        if "://" in args.file:
            raise InvalidArgument(f"importing from a URL is not supported: {args.file}")
        try:
            stream = open(args.file, "rb")
        except OSError as err:
            raise InvalidArgument(f"cannot open {args.file}: {err.strerror}") from None
        with stream:
            image = images.import_rootfs(stream, args.reference, args.change, args.message, args.file)
    print(image.id)
    return 0
