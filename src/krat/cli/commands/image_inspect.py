"""`krat image inspect [-f FORMAT] IMAGE...`: Docker's JSON view of images."""

from __future__ import annotations

import json
import sys

from krat.cli.options import ArgumentParser

HELP = "Display detailed information on one or more images"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("image inspect", HELP)
    parser.add_argument("-f", "--format", default=None, help="a Go template, e.g. {{.Id}} or {{json .Config}}")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    args = parser.parse_args(argv)

    from krat.engine.imageinspect import inspect_doc
    from krat.engine.images import ImageService

    images = ImageService(ctx.paths)
    docs = [inspect_doc(images, images.resolve(ref)) for ref in args.images]
    if args.format:
        from krat.cli.humanize import render

        sys.stdout.write("".join(render(args.format, d) + "\n" for d in docs))
    else:
        sys.stdout.write(json.dumps(docs, indent=4) + "\n")
    return 0
