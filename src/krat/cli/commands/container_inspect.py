"""krat container inspect: Docker's container document (State, Config, HostConfig, Mounts...)."""

from __future__ import annotations

HELP = "Display detailed information on one or more containers"
FAST_EXIT = True  # see krat.cli.main.cli


def inspect_containers(ctx, refs: list[str], fmt: str, size: bool = False) -> int:
    import json
    import sys

    from krat.cli.tables import render
    from krat.engine.containers import ContainerService
    from krat.engine.images import ImageService
    from krat.engine.views import inspect_document
    from krat.errors import KratError, NotFound

    svc = ContainerService(ctx.paths)
    images = ImageService(ctx.paths, svc.db)
    docs, code = [], 0
    for ref in refs:
        try:
            c = svc.get(ref)
        except NotFound as err:
            sys.stderr.write(f"Error: {err.message}\n")
            code = 1
            continue
        try:
            config = images.get(c.row.image_id).config
        except KratError:
            config = {}
        doc = inspect_document(svc, c, config)
        try:
            net = svc.networking().inspect(c.id)   # NetworkSettings and Mounts, from the net area
            doc["HostConfig"].update(net.pop("HostConfig"))   # and HostConfig's keys of its flags
            doc.update(net)
        except KratError:
            pass
        docs.append(doc)
    if fmt:
        for d in docs:
            print(render(fmt, d))
    else:
        print(json.dumps(docs, indent=4))
    return code


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser

    p = ArgumentParser("container inspect")
    p.add_argument("-f", "--format", default="")
    p.add_argument("-s", "--size", action="store_true")
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    return inspect_containers(ctx, args.containers, args.format, args.size)
