"""krat cp: copy files between a container and the host (either side may be a tar stream '-')."""

from __future__ import annotations

HELP = "Copy files/folders between a container and the local filesystem"


def split(arg: str) -> tuple[str | None, str]:
    """'name:/path' -> (name, path); a local path (absolute, ./, or without ':') -> (None, path)."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    name, _, path = arg.partition(":")
    return name, path


def main(ctx, argv: list[str]) -> int:
    import sys

    from krat.cli.options import ArgumentParser
    from krat.engine import containerfs
    from krat.engine.containers import ContainerService
    from krat.errors import InvalidArgument

    p = ArgumentParser("cp")
    p.add_argument("-a", "--archive", action="store_true")
    p.add_argument("-L", "--follow-link", action="store_true")
    p.add_argument("src")
    p.add_argument("dest")
    args = p.parse_args(argv)
    (src_c, src), (dst_c, dst) = split(args.src), split(args.dest)
    if (src_c is None) == (dst_c is None):
        raise InvalidArgument("copying between containers or between local paths is not supported: "
                              "one side must be CONTAINER:PATH")
    svc = ContainerService(ctx.paths)
    if src_c is not None:
        c = svc.get(src_c)
        if dst == "-":
            containerfs.copy_out(svc, c, src, sys.stdout.buffer, args.follow_link)
        else:
            containerfs.copy_out_to(svc, c, src, dst, args.follow_link)
    else:
        c = svc.get(dst_c)
        if src == "-":
            containerfs.copy_in(svc, c, None, sys.stdin.buffer, dst)
        else:
            containerfs.copy_in(svc, c, src, None, dst, archive=args.archive)
    return 0
