"""`krat tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`"""

from __future__ import annotations

from krat.cli.options import ArgumentParser

HELP = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("tag", HELP)
    parser.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    parser.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    args = parser.parse_args(argv)

    from krat.engine.images import ImageService

    ImageService(ctx.paths).tag(args.source, args.target)
    return 0
