"""`krat search [OPTIONS] [REGISTRY/]TERM`: repositories from a registry's catalog (/v2/_catalog)."""

from __future__ import annotations

from krat.cli.options import ArgumentParser
from krat.cli.registry_opts import access_from, add_access_options

HELP = "Search a registry for images"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("search", description=HELP)
    parser.add_argument("--limit", type=int, default=25, help="at most this many results (default 25)")
    parser.add_argument("--no-trunc", action="store_true", help="accepted for Docker compatibility")
    parser.add_argument("--format", default=None, help="'{{.Name}}' prints names only")
    add_access_options(parser)
    parser.add_argument("term", metavar="[REGISTRY/]TERM")
    args = parser.parse_args(argv)

    from krat.engine.registries import search

    names = search(args.term, args.limit, access_from(args))
    if args.format and "Name" in args.format:
        print("\n".join(names))
        return 0
    width = max([len("NAME"), *map(len, names)]) + 3
    print(f"{'NAME':<{width}}DESCRIPTION   STARS     OFFICIAL")
    for name in names:
        print(f"{name:<{width}}{'':<14}{0:<10}")
    return 0
