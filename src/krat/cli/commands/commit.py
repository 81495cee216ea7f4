"""krat commit: a new image from a container's changes."""

from __future__ import annotations

HELP = "Create a new image from a container's changes"


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser
    from krat.engine.containerfs import commit
    from krat.engine.containers import ContainerService

    p = ArgumentParser("commit")
    p.add_argument("-a", "--author", default="")
    p.add_argument("-c", "--change", action="append", default=[])
    p.add_argument("-m", "--message", default="")
    p.add_argument("-p", "--pause", default="true", choices=["true", "false"])
    p.add_argument("container")
    p.add_argument("repository", nargs="?")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    c = svc.get(args.container)
    image = commit(svc, c, [args.repository] if args.repository else [], args.change, args.author,
                   args.message, args.pause == "true")
    print(image.id)
    return 0
