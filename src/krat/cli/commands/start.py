"""krat start: start one or more stopped containers."""

from __future__ import annotations

HELP = "Start one or more stopped containers"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser
    from krat.engine.containers import ContainerService

    p = ArgumentParser("start")
    p.add_argument("-a", "--attach", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    if args.attach:
        if len(args.containers) != 1:
            from krat.errors import InvalidArgument

            raise InvalidArgument("you cannot start and attach multiple containers at once")
        from krat.cli.session import attach_session

        c = svc.get(args.containers[0])
        sock = svc.start(c, attach=True)
        if sock is None:
            return 0
        code = attach_session(sock, svc.refresh(c).row.pid, stdin=args.interactive and c.spec.open_stdin,
                              tty=c.spec.tty, wait_final=c.spec.restart.name == "no")
        return 0 if code is None else code
    from krat.cli.options import for_each

    return for_each(args.containers, lambda ref: svc.start(ref))

