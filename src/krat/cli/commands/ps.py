"""krat ps: list containers (Docker's columns, status strings, filters, --format)."""

from __future__ import annotations

HELP = "List containers"
FAST_EXIT = True  # see krat.cli.main.cli

HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "RunningFor": "CREATED",
           "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES", "Size": "SIZE", "State": "STATE",
           "Labels": "LABELS", "CreatedAt": "CREATED AT"}
DEFAULT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser
    from krat.cli.tables import format_rows
    from krat.engine.containers import ContainerService
    from krat.engine.filters import ContainerFilter
    from krat.engine.views import ps_row

    p = ArgumentParser("ps")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-s", "--size", action="store_true")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format", default="")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-n", "--last", type=int, default=-1)
    p.add_argument("-l", "--latest", action="store_true")
    args = p.parse_args(argv)
    filt = ContainerFilter.parse(args.filter)
    svc = ContainerService(ctx.paths)
    found = svc.list()
    show_all = args.all or args.last >= 0 or args.latest or filt.implies_all()
    found = [c for c in found if (show_all or c.row.status in ("running", "paused", "restarting"))
             and filt.matches(c, found)]
    if args.latest:
        found = found[:1]
    elif args.last >= 0:
        found = found[: args.last]
    if args.quiet:
        for c in found:
            print(c.id if args.no_trunc else c.id[:12])
        return 0
    configs = image_configs(svc, found)
    fmt = args.format or (DEFAULT + ("\t{{.Size}}" if args.size else ""))
    # The network and volume area's columns, looked up only for a format that shows them.
    attached = fmt.strip() == "json" or any(key in fmt for key in ("Networks", "Mounts", "LocalVolumes", "json ."))
    rows = []
    for c in found:
        r = ps_row(c, configs.get(c.row.image_id, {}), truncate=not args.no_trunc, ports=ports_text(svc, c))
        fields = {"ID": r.id, "Image": r.image, "Command": r.command, "RunningFor": r.created,
                  "Status": r.status, "State": r.state, "Ports": r.ports, "Names": r.names,
                  "Labels": ",".join(f"{k}={v}" for k, v in r.labels.items()),
                  "CreatedAt": created_at(c.row.created), "Mounts": "", "Networks": "", "LocalVolumes": "0"}
        if attached:
            fields.update(attachments(svc, c, truncate=not args.no_trunc))
        if args.size:
            fields["Size"] = size_text(svc, c)
        rows.append(fields)
    print(format_rows(fmt, HEADERS, rows), end="")
    return 0


def image_configs(svc, containers) -> dict:
    from krat.engine.images import ImageService
    from krat.errors import KratError

    images = ImageService(svc.paths, svc.db)
    out = {}
    for c in containers:
        if c.row.image_id not in out:
            try:
                out[c.row.image_id] = images.get(c.row.image_id).config
            except KratError:
                out[c.row.image_id] = {}
    return out


def size_text(svc, c) -> str:
    import os

    from krat.cli.humanize import human_size

    total = 0
    for root, _, files in os.walk(os.path.join(svc.storage_dir(c.id), "diff")):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    try:
        from krat.engine.images import ImageService

        image_size = ImageService(svc.paths, svc.db).get(c.row.image_id).size
    except Exception:
        image_size = 0
    return f"{human_size(total)} (virtual {human_size(total + image_size)})"


def created_at(stamp: str) -> str:
    """Docker's CreatedAt: '2026-12-05 08:19:43 +0000 UTC', in local time."""
    import time

    from krat.engine.state import epoch

    return time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(epoch(stamp)))


def attachments(svc, c, truncate: bool) -> dict:
    """Networks (names), Mounts (volume names, else bind sources; 15 characters unless
    --no-trunc) and LocalVolumes (how many volumes), as Docker's ps gives them."""
    from krat.engine.views import ellipsis
    from krat.errors import KratError

    try:
        networks, mounts = svc.networking().attachments(c.id)
    except KratError:
        return {}
    names = [m.get("Name") or m["Source"] for m in mounts]
    if truncate:
        names = [ellipsis(n, 15) for n in names]
    return {"Networks": ",".join(networks), "Mounts": ",".join(names),
            "LocalVolumes": str(sum(1 for m in mounts if m["Type"] == "volume"))}


def ports_text(svc, c) -> str:
    from krat.errors import KratError

    if c.row.status not in ("running", "paused", "restarting"):
        return ""
    try:
        return svc.networking().ports_text(c.id)
    except KratError:
        return ""
