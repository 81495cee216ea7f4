"""krat exec: run a command in a running container (-i -t -e -u -w -d).

`krat exec` is measured against `docker exec` (bench/, ~20 ms budget), so the usual
command lines are read by a few lines of code here; anything else (--help, an unknown
or abbreviated flag, a missing value) goes to argparse, which gives its usual messages.
"""

from __future__ import annotations

HELP = "Execute a command in a running container"

_BOOLS = {"-i": "interactive", "--interactive": "interactive", "-t": "tty", "--tty": "tty",
          "-d": "detach", "--detach": "detach", "--privileged": "privileged"}
_VALUES = {"-e": "env", "--env": "env", "--env-file": "env_file", "-u": "user", "--user": "user",
           "-w": "workdir", "--workdir": "workdir"}


class Args:
    def __init__(self) -> None:
        self.interactive = self.tty = self.detach = self.privileged = False
        self.env: list[str] = []
        self.env_file: list[str] = []
        self.user = ""
        self.workdir = ""
        self.container = ""
        self.command: list[str] = []


def quick_parse(argv: list[str]) -> Args | None:
    """The common forms (`-it`, `-e K=V`, `--user=x`, ...) or None: then argparse decides."""
    args = Args()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            args.container, args.command = arg, argv[i + 1:]
            return args
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        flags = [name] if name.startswith("--") or len(name) == 2 else [f"-{c}" for c in name[1:]]  # -it
        for n, flag in enumerate(flags):
            if flag in _BOOLS and not eq:
                setattr(args, _BOOLS[flag], True)
            elif flag in _VALUES and n == len(flags) - 1:
                if not eq:
                    i += 1
                    if i >= len(argv) or argv[i].startswith("-"):
                        return None
                    value = argv[i]
                _set(args, _VALUES[flag], value)
            else:
                return None
        i += 1
    return None


def _set(args: Args, field: str, value: str) -> None:
    if field in ("env", "env_file"):
        getattr(args, field).append(value)
    else:
        setattr(args, field, value)


def parse(argv: list[str]):
    from krat.cli.options import ArgumentParser

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
    return p.parse_args(argv)


def main(ctx, argv: list[str]) -> int:
    import gc
    import os

    # No cyclic garbage collection while the command sets up: its passes would walk every object
    # the imports below make (~0.9 ms in 8 passes); execs turns it back on before the wait.
    gc.disable()

    from krat.engine.execs import ExecSpec, exec_in
    from krat.errors import InvalidArgument

    args = quick_parse(argv) or parse(argv)
    if not args.command:
        raise InvalidArgument("exec needs a command to run in the container")
    env: list[str] = []
    if args.env or args.env_file:
        from krat.engine.spec import parse_env_file, parse_env_line

        for path in args.env_file:
            try:
                with open(path) as f:
                    content = f.read()
            except OSError as err:  # as run's --env-file
                raise InvalidArgument(f"cannot read env file {path}: {err.strerror}") from None
            env += parse_env_file(path, content, os.environ.get)
        env += [v for v in (parse_env_line(e, os.environ.get) for e in args.env) if v is not None]
    if args.workdir and not args.workdir.startswith("/"):
        raise InvalidArgument(f"invalid working directory {args.workdir!r}: it must be an absolute path")
    console_size = None
    if args.tty:
        from krat.engine.attach import terminal_size

        console_size = terminal_size()
    spec = ExecSpec(tuple(args.command), tuple(env), args.user, args.workdir, args.tty,
                    args.interactive, args.detach, args.privileged, console_size)
    from krat.cli.main import exit_now

    exit_now(exec_in(ctx.root, ctx.runroot, args.container, spec))
    return 0  # not reached
