"""krat create: create a container without starting it."""

from __future__ import annotations

HELP = "Create a new container"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    from krat.cli.container_flags import build_spec, parse_flags

    args = parse_flags("create", HELP, argv)
    if args is None:
        return 0  # --help
    spec, name, netvol = build_spec(args)
    from krat.engine.containers import ContainerService

    svc = ContainerService(ctx.paths)
    if args.pull != "missing" or not svc.has_image(spec.image):
        from krat.cli.registry_opts import pull_for_run

        pull_for_run(ctx, spec.image, args)  # --pull missing|always|never, as Docker
    c = svc.create(spec, name, netvol)
    print(c.id)
    return 0
