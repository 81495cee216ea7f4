"""`krat history [-H] [--no-trunc] [-q] [--format F] IMAGE`"""

from __future__ import annotations

import json
import sys

from krat.cli.options import ArgumentParser

HELP = "Show the history of an image"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("history", HELP)
    parser.add_argument("-H", "--human", default="true", nargs="?", const="true",
                        help="print sizes and dates in human readable format (default true)")
    parser.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only show image ids")
    parser.add_argument("--format", default=None, help="json or a Go template")
    parser.add_argument("image", metavar="IMAGE")
    args = parser.parse_args(argv)

    from krat.cli.humanize import ago, human_size, parse_rfc3339, render, table
    from krat.engine.imageinspect import history_rows
    from krat.engine.images import ImageService

    images = ImageService(ctx.paths)
    rows = history_rows(images, images.resolve(args.image))
    human = args.human.lower() not in ("false", "0")
    out = []
    for r in rows:
        ident = r["Id"] if args.no_trunc or r["Id"] == "<missing>" else r["Id"].split(":")[-1][:12]
        created = parse_rfc3339(r["Created"])
        by = r["CreatedBy"] if args.no_trunc or len(r["CreatedBy"]) <= 45 else r["CreatedBy"][:44] + "…"
        out.append({"ID": ident, "CreatedAt": r["Created"],
                    "CreatedSince": ago(created) if human else r["Created"], "CreatedBy": by,
                    "Size": human_size(r["Size"]) if human else str(r["Size"]), "Comment": r["Comment"]})
    if args.quiet:
        sys.stdout.write("".join(f"{r['ID']}\n" for r in out))
    elif args.format == "json":
        sys.stdout.write("".join(json.dumps(r) + "\n" for r in out))
    elif args.format:
        sys.stdout.write("".join(render(args.format, r) + "\n" for r in out))
    else:
        head = ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
        sys.stdout.write(table([head] + [[r["ID"], r["CreatedSince"], r["CreatedBy"], r["Size"], r["Comment"]]
                                         for r in out]))
    return 0
