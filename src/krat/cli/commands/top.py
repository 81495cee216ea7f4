"""krat top: the processes of a container, as the host's ps shows them (default: ps -ef)."""

from __future__ import annotations

HELP = "Display the running processes of a container"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    import subprocess

    from krat.cli.options import ArgumentParser
    from krat.engine.containers import ContainerService
    from krat.engine.stats import pids
    from krat.errors import Conflict, InvalidArgument

    p = ArgumentParser("top")
    p.add_argument("container")
    p.add_argument("ps_args", nargs="...")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    c = svc.get(args.container)
    if c.row.status not in ("running", "paused"):
        raise Conflict(f"container {c.name} is not running")
    wanted = set(pids(c.id, c.spec.runtime))
    ps_args = args.ps_args or ["-ef"]
    proc = subprocess.run(["ps", *ps_args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise InvalidArgument(f"ps {' '.join(ps_args)}: {proc.stderr.strip().splitlines()[0] if proc.stderr else 'failed'}")
    lines = proc.stdout.splitlines()
    header = lines[0].split()
    if "PID" not in header:
        raise InvalidArgument("ps options must produce a PID column")
    col = header.index("PID")
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            print(line)
    return 0
