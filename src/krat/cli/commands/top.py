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
    rows = [header]
    for line in lines[1:]:
        fields = line.split(None, len(header) - 1)   # the last column (CMD) keeps its spaces
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            rows.append(fields)
    print(aligned(rows), end="")
    return 0


def aligned(rows: list[list[str]], min_width: int = 20, padding: int = 3) -> str:
    """Docker's top table: every column but the last at least 20 wide, 3 spaces after the
    widest cell (Go's tabwriter as the docker CLI sets it up)."""
    widths = [max(min_width, max(len(r[i]) for r in rows if len(r) > i) + padding)
              for i in range(max(len(r) for r in rows) - 1)]
    return "".join("".join(cell.ljust(widths[i]) if i < len(widths) and i < len(r) - 1 else cell
                           for i, cell in enumerate(r)) + "\n" for r in rows)
