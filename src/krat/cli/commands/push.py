"""`krat push [OPTIONS] IMAGE [DESTINATION]`"""

from __future__ import annotations

import sys

from krat.cli.options import ArgumentParser
from krat.cli.registry_opts import access_from, add_access_options

HELP = "Upload an image to a registry"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("push", description=HELP)
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--digestfile", default=None, metavar="FILE", help="write the pushed manifest digest to FILE")
    add_access_options(parser)
    parser.add_argument("image", metavar="IMAGE")
    parser.add_argument("destination", nargs="?", default=None, metavar="DESTINATION",
                        help="NAME[:TAG] to push to (default: IMAGE)")
    args = parser.parse_args(argv)

    from krat.cli.progress import ProgressPrinter
    from krat.engine.push import push
    from krat.oci.reference import parse_reference

    target = parse_reference(args.destination or args.image)
    out = sys.stdout
    if not args.quiet:
        out.write(f"The push refers to repository [{target.repository if target.domain != 'docker.io' else 'docker.io/' + target.path}]\n")
        out.flush()
    printer = ProgressPrinter(out, quiet=args.quiet)
    result = push(ctx.paths, args.image, args.destination, access=access_from(args), listener=printer)
    printer.finish()
    if args.digestfile:
        with open(args.digestfile, "w") as f:
            f.write(result.digest)
    if not args.quiet:
        out.write(f"{result.reference.tag}: digest: {result.digest} size: {result.size}\n")
    return 0
