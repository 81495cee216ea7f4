"""krat diff: files changed in a container's filesystem (A added, C changed, D deleted)."""

from __future__ import annotations

HELP = "Inspect changes to files or directories on a container's filesystem"


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser
    from krat.engine.containerfs import diff
    from krat.engine.containers import ContainerService

    p = ArgumentParser("diff")
    p.add_argument("container")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    for kind, path in diff(svc, svc.get(args.container)):
        print(f"{kind} {path}")
    return 0
