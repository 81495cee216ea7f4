"""`krat save [-o FILE] [--format docker-archive|oci-archive|oci-dir] IMAGE...`"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from krat.cli.options import ArgumentParser
from krat.errors import InvalidArgument

HELP = "Save one or more images to a tar archive (streamed to STDOUT by default)"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("save", HELP)
    parser.add_argument("-o", "--output", default=None, help="write to a file (a directory for oci-dir)")
    parser.add_argument("--format", default="docker-archive",
                        help="docker-archive (default), oci-archive or oci-dir")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    args = parser.parse_args(argv)

    from krat.engine.images import ImageService

    images = ImageService(ctx.paths)
    for ref in args.images:
        images.resolve_id(ref)  # fail before creating any output
    if args.format == "oci-dir":
        if not args.output:
            raise InvalidArgument("--format oci-dir needs -o DIR")
        images.save(args.images, Path(args.output), "oci-dir")
        return 0
    if not args.output or args.output == "-":
        if sys.stdout.isatty():
            raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        images.save(args.images, sys.stdout.buffer, args.format)
        return 0
    _save_file(images, args.images, Path(args.output), args.format)
    return 0


def _save_file(images, refs: list[str], path: Path, fmt: str) -> None:
    """Write next to the target and rename: a failed save leaves no partial file."""
    tmp = path.with_name(f".{path.name}.krat-{os.getpid()}")
    try:
        with open(tmp, "wb") as out:
            images.save(refs, out, fmt)
        os.rename(tmp, path)
    except OSError as err:
        raise InvalidArgument(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        tmp.unlink(missing_ok=True)
