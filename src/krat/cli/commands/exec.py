"""krat exec: run a command in a running container (-i -t -e -u -w -d)."""

from __future__ import annotations

HELP = "Execute a command in a running container"


def main(ctx, argv: list[str]) -> int:
    import os

    from krat.cli.options import ArgumentParser
    from krat.engine.containers import ContainerService
    from krat.engine.execs import ExecSpec, run_exec
    from krat.engine.spec import parse_env_file, parse_env_line
    from krat.errors import InvalidArgument

    p = ArgumentParser("exec")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("--env-file", action="append", default=[])
    p.add_argument("-u", "--user", default="")
    p.add_argument("-w", "--workdir", default="")
    p.add_argument("--privileged", action="store_true")
    p.add_argument("container")
    p.add_argument("command", nargs="...")
    args = p.parse_args(argv)
    if not args.command:
        raise InvalidArgument("exec needs a command to run in the container")
    env = []
    for path in args.env_file:
        with open(path) as f:
            env += parse_env_file(path, f.read(), os.environ.get)
    env += [v for v in (parse_env_line(e, os.environ.get) for e in args.env) if v is not None]
    if args.workdir and not args.workdir.startswith("/"):
        raise InvalidArgument(f"invalid working directory {args.workdir!r}: it must be an absolute path")
    svc = ContainerService(ctx.paths)
    c = svc.get(args.container)
    spec = ExecSpec(tuple(args.command), tuple(env), args.user, args.workdir, args.tty,
                    args.interactive, args.detach, args.privileged)
    return run_exec(svc, c, spec)
