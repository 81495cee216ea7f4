"""krat wait: block until containers stop, print their exit codes."""

from __future__ import annotations

HELP = "Block until one or more containers stop, then print their exit codes"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    import sys

    from krat.cli.options import ArgumentParser
    from krat.engine.containers import ContainerService
    from krat.errors import KratError

    p = ArgumentParser("wait")
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    code = 0
    for ref in args.containers:
        try:
            print(svc.wait(ref), flush=True)
        except KratError as err:
            sys.stderr.write(f"Error: {err.message}\n")
            code = 1
    return code
