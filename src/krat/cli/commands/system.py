"""`krat system prune [-a] [-f] [--volumes]`: what Docker's system prune removes, for krat's objects.

In order: stopped containers (so their networks, volumes and images become unused), the
kernel leftovers of crashed containers and killed krat processes (namespaces, veths,
published-port rules, bridges, tables and DNS responders nobody uses), unused networks,
with --volumes unused anonymous volumes, dangling images (-a: every image no container
uses), and the build cache.
"""

from __future__ import annotations

import sys

from krat.cli.options import ArgumentParser

HELP = "Manage krat (krat system prune)"

USAGE = """\
Usage: krat system COMMAND

Commands:
  prune       Remove unused data
"""


def prune(ctx, argv: list[str]) -> int:
    p = ArgumentParser("system prune", "Remove unused data")
    p.add_argument("-a", "--all", action="store_true", help="remove all unused images, not just dangling ones")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument("--volumes", action="store_true", help="prune anonymous volumes")
    args = p.parse_args(argv)
    if not args.force and not _confirm(args.all, args.volumes):
        return 0

    from krat.build.prune import prune_cache
    from krat.cli.humanize import human_size
    from krat.db import open_database
    from krat.engine.containers import ContainerService
    from krat.engine.images import ImageService
    from krat.engine.networks import NetworkService
    from krat.engine.volumes import VolumeService

    db = open_database(ctx.paths.db)
    containers = ContainerService(ctx.paths, db)
    _section("Deleted Containers", containers.prune())
    containers.collect_network_garbage()
    _section("Deleted Networks", NetworkService(db, ctx.paths).prune())
    reclaimed = 0
    if args.volumes:
        removed, size = VolumeService(db, ctx.paths).prune()
        _section("Deleted Volumes", removed)
        reclaimed += size
    events, size = ImageService(ctx.paths, db).prune(all_images=args.all)
    _section("Deleted Images", [f"{action.lower()}: {what}" for action, what in events])
    reclaimed += size
    count, size = prune_cache(ctx.paths, None, mounts=args.all)
    if count:
        sys.stdout.write(f"Deleted build cache objects: {count}\n\n")
    reclaimed += size
    sys.stdout.write(f"Total reclaimed space: {human_size(reclaimed)}\n")
    return 0


def _confirm(all_images: bool, volumes: bool) -> bool:
    items = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        items.append("all anonymous volumes not used by at least one container")
    items.append("all images without at least one container associated to them" if all_images
                 else "all dangling images")
    items.append("all build cache" if all_images else "unused build cache")
    sys.stdout.write("WARNING! This will remove:\n" + "".join(f"  - {item}\n" for item in items)
                     + "\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _section(title: str, lines: list[str]) -> None:
    if lines:
        sys.stdout.write(f"{title}:\n" + "".join(f"{line}\n" for line in lines) + "\n")


SUBCOMMANDS = {"prune": prune}


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import run_subcommand

    return run_subcommand("system", USAGE, SUBCOMMANDS, ctx, argv)
