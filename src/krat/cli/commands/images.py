"""`krat images [OPTIONS] [REPOSITORY[:TAG]]`: list images (database only, no blob reads)."""

from __future__ import annotations

import fnmatch
import json
import sys

from krat.cli.options import ArgumentParser
from krat.errors import InvalidArgument

HELP = "List images"
FAST_EXIT = True  # see krat.cli.main.cli

NONE = "<none>"


def _parser() -> ArgumentParser:
    parser = ArgumentParser("images", HELP)
    parser.add_argument("-a", "--all", action="store_true", help="show all images (intermediate too)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only show image ids")
    parser.add_argument("--digests", action="store_true", help="show digests")
    parser.add_argument("--no-trunc", action="store_true", help="do not truncate ids")
    parser.add_argument("-f", "--filter", action="append", default=[],
                        help="dangling=true|false, reference=PATTERN")
    parser.add_argument("--format", default=None, help="table, json, or a Go template like {{.ID}}")
    parser.add_argument("reference", nargs="?", help="only REPOSITORY[:TAG]")
    return parser


def _split(name: str) -> tuple[str, str]:
    from krat.engine.images import split_name

    return split_name(name)


def rows_for(listings, args) -> list[dict]:
    """One dict per (image, tag) in Docker's `images --format json` shape."""
    from krat.cli.humanize import ago, human_size, parse_rfc3339
    from krat.engine.images import familiar

    filters = _filters(args.filter)
    out = []
    for listing in listings:
        img = listing.image
        names = [familiar(t) for t in listing.tags]
        dangling = not names
        if dangling and listing.has_children and not args.all:
            continue
        if "dangling" in filters and filters["dangling"] != dangling:
            continue
        created = parse_rfc3339(img.created)
        digests = {familiar(d).split("@")[0]: d.split("@")[1] for d in listing.repo_digests}
        hex_ = img.id.split(":", 1)[-1]
        for name in names or [None]:
            repo, tag = _split(name) if name else (NONE, NONE)
            if not _wanted(repo, tag, name, args.reference, filters.get("reference")):
                continue
            out.append({
                "Containers": "N/A",
                "CreatedAt": _created_at(created),
                "CreatedSince": ago(created),
                "Digest": digests.get(repo, NONE),
                "ID": img.id if args.no_trunc else hex_[:12],
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": human_size(img.size),
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(img.size),
            })
    return out


def _filters(items: list[str]) -> dict:
    out: dict = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgument(f"bad format of filter (expected name=value): {item}")
        if key == "dangling":
            if value.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid filter 'dangling={value}'")
            out["dangling"] = value.lower() in ("true", "1")
        elif key == "reference":
            out.setdefault("reference", []).append(value)
        else:
            raise InvalidArgument(f"invalid filter {key!r}: krat images supports dangling and reference")
    return out


def _wanted(repo: str, tag: str, name: str | None, reference: str | None, patterns) -> bool:
    if reference:
        want_repo, want_tag = _split(reference)
        if not name or not fnmatch.fnmatchcase(repo, want_repo) or (want_tag and not fnmatch.fnmatchcase(tag, want_tag)):
            return False
    if patterns:
        if not name or not any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(repo, p) for p in patterns):
            return False
    return True


def _created_at(ts: float | None) -> str:
    if ts is None:
        return ""
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(ts))


def main(ctx, argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from krat.engine.images import ImageService

    rows = rows_for(ImageService(ctx.paths).list(), args)
    out = sys.stdout
    if args.quiet:
        seen = dict.fromkeys(r["ID"] for r in rows)
        out.write("".join(f"{i}\n" for i in seen))
        return 0
    fmt = args.format
    if fmt == "json":
        out.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))
        return 0
    if fmt and fmt != "table":
        from krat.cli.humanize import render, table

        if fmt.startswith("table "):
            head = {k: k.upper() for k in rows[0]} if rows else {}
            lines = [render(fmt[6:], head)] + [render(fmt[6:], r) for r in rows]
            out.write(table([line.split("\t") for line in lines]))
        else:
            out.write("".join(render(fmt, r) + "\n" for r in rows))
        return 0
    from krat.cli.humanize import table

    head = ["REPOSITORY", "TAG"] + (["DIGEST"] if args.digests else []) + ["IMAGE ID", "CREATED", "SIZE"]
    body = [[r["Repository"], r["Tag"]] + ([r["Digest"]] if args.digests else [])
            + [r["ID"], r["CreatedSince"], r["Size"]] for r in rows]
    out.write(table([head] + body))
    return 0
