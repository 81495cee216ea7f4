"""krat create: create a container without starting it."""

from __future__ import annotations

HELP = "Create a new container"


def main(ctx, argv: list[str]) -> int:
    from krat.cli.container_flags import build_spec, new_parser
    from krat.engine.containers import ContainerService

    args = new_parser("create").parse_args(argv)
    spec, name = build_spec(args)
    c = ContainerService(ctx.paths).create(spec, name)
    print(c.id)
    return 0
