"""krat create: create a container without starting it."""

from __future__ import annotations

HELP = "Create a new container"


def main(ctx, argv: list[str]) -> int:
    from krat.cli.container_flags import build_spec, new_parser
    from krat.engine.containers import ContainerService

    from krat.cli.registry_opts import add_pull_options, pull_for_run

    parser = new_parser("create")
    add_pull_options(parser)
    args = parser.parse_args(argv)
    spec, name = build_spec(args)
    pull_for_run(ctx, spec.image, args)  # --pull missing|always|never, as Docker
    c = ContainerService(ctx.paths).create(spec, name)
    print(c.id)
    return 0
