"""krat export: a container's filesystem as a tar archive (stdout or -o FILE)."""

from __future__ import annotations

HELP = "Export a container's filesystem as a tar archive"


def main(ctx, argv: list[str]) -> int:
    import sys

    from krat.cli.options import ArgumentParser
    from krat.engine.containerfs import export
    from krat.engine.containers import ContainerService
    from krat.errors import InvalidArgument

    p = ArgumentParser("export")
    p.add_argument("-o", "--output", default="")
    p.add_argument("container")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    c = svc.get(args.container)
    if args.output:
        with open(args.output, "wb") as out:
            export(svc, c, out)
        return 0
    if sys.stdout.isatty():
        raise InvalidArgument("cowardly refusing to write a tar archive to a terminal; use -o FILE or a pipe")
    export(svc, c, sys.stdout.buffer)
    return 0
