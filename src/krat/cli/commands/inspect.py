"""krat inspect: containers (Docker's container document) or, failing that, images."""

from __future__ import annotations

HELP = "Return low-level information on containers or images"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    from krat.cli.commands.container_inspect import inspect_containers
    from krat.cli.options import ArgumentParser
    from krat.engine.containers import ContainerService
    from krat.errors import KratError

    p = ArgumentParser("inspect")
    p.add_argument("-f", "--format", default="")
    p.add_argument("-s", "--size", action="store_true")
    p.add_argument("--type", default="", choices=["", "container", "image"])
    p.add_argument("names", nargs="+")
    args = p.parse_args(argv)
    if args.type != "image":
        svc = ContainerService(ctx.paths)
        containers = []
        for ref in args.names:
            try:
                svc.get(ref)
                containers.append(ref)
            except KratError:
                pass
        if args.type == "container" or len(containers) == len(args.names):
            return inspect_containers(ctx, args.names, args.format, args.size)
    from krat.cli.main import load_verb

    images = load_verb("image_inspect")
    if images is None:
        from krat.errors import NotFound

        raise NotFound(f"no such object: {args.names[0]}")
    if args.type == "":
        from krat.engine.images import ImageService
        from krat.errors import NotFound

        found = ImageService(ctx.paths)
        for ref in args.names:
            if ref not in containers:
                try:
                    found.resolve(ref)
                except KratError:   # not found, or not even an image reference
                    raise NotFound(f"No such object: {ref}") from None   # neither, as Docker says it
    rest = (["--format", args.format] if args.format else []) + args.names
    return images.main(ctx, rest)
