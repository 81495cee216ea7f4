"""krat stats: CPU, memory, network and pids of running containers (--no-stream: once)."""

from __future__ import annotations

HELP = "Display a live stream of container(s) resource usage statistics"

HEADERS = {"ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
           "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}
DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"


def binary(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return f"{n}"


def decimal(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n}"


def main(ctx, argv: list[str]) -> int:
    import sys
    import time

    from krat.cli.options import ArgumentParser
    from krat.cli.tables import format_rows
    from krat.engine.containers import ContainerService
    from krat.engine.stats import cpu_percent

    p = ArgumentParser("stats")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("--no-stream", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("--format", default="")
    p.add_argument("containers", nargs="*")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    while True:
        chosen = [svc.get(r) for r in args.containers] if args.containers else \
            [c for c in svc.list() if args.all or c.row.status in ("running", "paused")]
        rows = []
        for c in chosen:
            running = c.row.status in ("running", "paused")
            cpu, u = cpu_percent(c, 0.2) if running else (0.0, None)
            mem = f"{binary(u.memory)} / {binary(u.memory_limit)}" if u else "0B / 0B"
            rows.append({"ID": c.id if args.no_trunc else c.id[:12], "Name": c.name, "CPUPerc": f"{cpu:.2f}%",
                         "MemUsage": mem, "MemPerc": f"{(u.memory / u.memory_limit * 100) if u and u.memory_limit else 0:.2f}%",
                         "NetIO": f"{decimal(u.net_rx)} / {decimal(u.net_tx)}" if u else "0B / 0B",
                         "BlockIO": f"{decimal(u.block_read)} / {decimal(u.block_write)}" if u else "0B / 0B", "PIDs": str(u.pids if u else 0), "Container": c.name})
        out = format_rows(args.format or DEFAULT, HEADERS, rows)
        if args.no_stream:
            sys.stdout.write(out)
            return 0
        sys.stdout.write("\x1b[2J\x1b[H" + out)
        sys.stdout.flush()
        time.sleep(1)
