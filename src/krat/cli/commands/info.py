"""`krat info [--format json|TEMPLATE]`: storage paths and kernel features."""

from __future__ import annotations

import json
import sys

from krat.cli.options import ArgumentParser

HELP = "Display system-wide information"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("info", HELP)
    parser.add_argument("-f", "--format", default=None, help="json or a Go template like {{.cgroup_version}}")
    args = parser.parse_args(argv)

    from krat import __version__
    from krat.cli.humanize import human_size, render
    from krat.engine.hostinfo import gather
    from krat.engine.images import ImageService

    images = ImageService(ctx.paths)
    counts = images.counts()
    info = gather(ctx.paths, counts["images"], counts["containers"])
    doc = {"version": __version__, **info.to_dict()}
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    if args.format:
        sys.stdout.write(render(args.format, doc) + "\n")
        return 0
    lines = [
        f"Version:          {__version__}",
        f"Root:             {info.root}",
        f"Run root:         {info.runroot}",
        f"Database:         {info.database}",
        f"Content store:    {info.content_store}",
        f"Layers:           {info.layers}",
        f"Rootless:         {_yes(info.rootless)}",
        f"Images:           {info.images}",
        f"Containers:       {info.containers}",
        f"Storage driver:   {info.storage_driver} (supported: {_yes(info.overlay)})",
        f"Cgroup version:   {info.cgroup_version}",
        f"User namespaces:  {_yes(info.user_namespaces)}",
        f"Seccomp:          {_yes(info.seccomp)}",
        f"Kernel version:   {info.kernel}",
        f"Operating system: {info.operating_system}",
        f"Architecture:     {info.architecture}",
        f"CPUs:             {info.cpus}",
        f"Total memory:     {human_size(info.memory)}",
        f"Python:           {info.python}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
