"""`krat pull [OPTIONS] NAME[:TAG|@DIGEST]`"""

from __future__ import annotations

import sys

from krat.cli.options import ArgumentParser
from krat.cli.registry_opts import access_from, add_access_options

HELP = "Download an image from a registry"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("pull", description=HELP)
    parser.add_argument("-a", "--all-tags", action="store_true", help="download every tagged image of the repository")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the image name")
    add_access_options(parser, platform=True)
    parser.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    args = parser.parse_args(argv)

    from krat.cli.progress import ProgressPrinter
    from krat.engine.pull import pull
    from krat.engine.transfers import Status
    from krat.oci.reference import parse_reference

    ref = parse_reference(args.name)
    out = sys.stdout
    explicit = ref.digest is not None or ":" in args.name.rsplit("/", 1)[-1].split("@")[0]
    if not args.quiet:
        if args.all_tags:
            out.write(f"Pulling all tags of {ref.familiar_repository}\n")
        else:
            if not explicit:
                out.write(f"Using default tag: {ref.tag}\n")
            out.write(f"{ref.tag or ref.digest}: Pulling from {ref.path}\n")
        out.flush()
    printer = ProgressPrinter(out, quiet=args.quiet)
    results = pull(ctx.paths, args.name, all_tags=args.all_tags, access=access_from(args), listener=printer)
    printer.finish(Status.PULL_COMPLETE)
    for result in results:
        shown = result.reference.familiar
        if not args.quiet:
            out.write(f"Digest: {result.digest}\n")
            verdict = "Downloaded newer image" if result.downloaded else "Image is up to date"
            out.write(f"Status: {verdict} for {shown}\n")
        if not args.all_tags:
            out.write(f"{result.reference}\n")
    if args.all_tags:
        out.write(f"{results[0].reference.repository}\n")
    return 0
