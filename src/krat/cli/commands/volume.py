"""`krat volume create|ls|inspect|rm|prune`."""

from __future__ import annotations


from krat.cli.commands.network import key_values
from krat.cli.options import ArgumentParser
from krat.errors import InvalidArgument

HELP = "Manage volumes"

USAGE = """\
Usage: krat volume COMMAND

Commands:
  create      Create a volume
  inspect     Display detailed information on one or more volumes
  ls          List volumes
  prune       Remove unused anonymous volumes (-a: all unused volumes)
  rm          Remove one or more volumes
"""


def service(ctx):
    from krat.db import open_database
    from krat.engine.volumes import VolumeService

    return VolumeService(open_database(ctx.paths.db), ctx.paths)


def create(ctx, argv: list[str]) -> int:
    p = ArgumentParser("volume create")
    p.add_argument("name", nargs="?")
    p.add_argument("--name", dest="name_flag")
    p.add_argument("-d", "--driver", default="local")
    p.add_argument("--label", action="append")
    p.add_argument("-o", "--opt", action="append")
    args = p.parse_args(argv)
    rec = service(ctx).create(args.name or args.name_flag, key_values(args.label, "label"),
                              key_values(args.opt, "option"), args.driver)
    print(rec.name)
    return 0


def ls(ctx, argv: list[str]) -> int:
    p = ArgumentParser("volume ls")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--format")
    p.add_argument("-f", "--filter", action="append", default=[])
    args = p.parse_args(argv)
    svc = service(ctx)
    vols = [v for v in svc.list() if all(matches(svc, v, f) for f in args.filter)]
    if args.quiet:
        for v in vols:
            print(v.name)
        return 0
    if args.format:
        from krat.cli.tables import format_rows

        rows = [{"Driver": v.driver, "Name": v.name, "Scope": "local", "Mountpoint": str(svc.mountpoint(v.name)),
                 "Labels": ",".join(f"{k}={val}" for k, val in v.labels.items())} for v in vols]
        print(format_rows(args.format, {"Driver": "DRIVER", "Name": "VOLUME NAME"}, rows), end="")
        return 0
    from krat.cli.humanize import table

    print(table([["DRIVER", "VOLUME NAME"]] + [[v.driver, v.name] for v in vols]), end="")
    return 0


def matches(svc, vol, text: str) -> bool:
    """Docker's volume filters: dangling=true|false, name=SUBSTRING, label=KEY[=VALUE], driver=NAME."""
    key, _, value = text.partition("=")
    if key == "dangling":
        if value not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter {text!r}: dangling takes true or false")
        return (not svc.in_use(vol.name)) == (value in ("true", "1"))
    if key == "name":
        return value in vol.name
    if key == "driver":
        return vol.driver == value
    if key == "label":
        label, eq, want = value.partition("=")
        return label in vol.labels and (not eq or vol.labels[label] == want)
    raise InvalidArgument(f"invalid filter {key!r}: expected dangling, name, label or driver")


def inspect(ctx, argv: list[str]) -> int:
    p = ArgumentParser("volume inspect")
    p.add_argument("volumes", nargs="+")
    p.add_argument("-f", "--format")
    args = p.parse_args(argv)
    from krat.cli.tables import print_inspect

    return print_inspect(args.volumes, service(ctx).inspect, args.format)


def rm(ctx, argv: list[str]) -> int:
    p = ArgumentParser("volume rm")
    p.add_argument("volumes", nargs="+")
    p.add_argument("-f", "--force", action="store_true")
    args = p.parse_args(argv)
    from krat.cli.options import remove_each

    svc = service(ctx)
    return remove_each(args.volumes, lambda name: svc.remove(name, args.force))


def prune(ctx, argv: list[str]) -> int:
    p = ArgumentParser("volume prune")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    args = p.parse_args(argv)
    removed, reclaimed = service(ctx).prune(args.all)
    if removed:
        print("Deleted Volumes:")
        for name in removed:
            print(name)
        print()
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.4g}{unit}"
        size /= 1000
    return f"{size}GB"


SUBCOMMANDS = {"create": create, "ls": ls, "list": ls, "inspect": inspect, "rm": rm, "remove": rm, "prune": prune}


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import run_subcommand

    return run_subcommand("volume", USAGE, SUBCOMMANDS, ctx, argv)
