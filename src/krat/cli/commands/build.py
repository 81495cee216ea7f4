"""`krat build`: build an image from a Dockerfile (the work is in krat.build)."""

from __future__ import annotations

import os
import sys

from krat.cli.options import ArgumentParser
from krat.errors import InvalidArgument, KratError

HELP = "Build an image from a Dockerfile"


def _parser() -> ArgumentParser:
    p = ArgumentParser("build", description=HELP)
    p.add_argument("context", metavar="PATH | -", help="build context: a directory, a tar archive, or - (stdin)")
    p.add_argument("-t", "--tag", action="append", default=[], help="name:tag for the image (repeatable)")
    p.add_argument("-f", "--file", help="the Dockerfile (default PATH/Dockerfile; - reads stdin)")
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY[=VALUE]")
    p.add_argument("--target", help="build this stage and what it needs")
    p.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    p.add_argument("--pull", action="store_true", help="pull base images even when present")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image id")
    p.add_argument("--iidfile", help="write the image id to this file")
    p.add_argument("--progress", default="auto", choices=["auto", "plain", "tty", "quiet"])
    p.add_argument("--explain", action="store_true", help="say why each step missed the cache")
    p.add_argument("--secret", action="append", default=[], metavar="id=ID,src=FILE|env=VAR",
                   help="a secret for RUN --mount=type=secret (never stored in the image or cache)")
    p.add_argument("-v", "--volume", action="append", default=[], metavar="HOST:CONTAINER[:ro|rw]",
                   help="bind a host path into every RUN step (as podman build; not stored in the image)")
    p.add_argument("--host-ca", nargs="?", const="", default=None, metavar="FILE",
                   help="RUN steps trust the host's CA bundle (or FILE): for pip/npm/curl behind a TLS proxy")
    p.add_argument("--network", default="default", choices=["default", "none", "host"],
                   help="network for RUN steps (RUN --network overrides)")
    return p


def _pairs(items: list[str], what: str, from_env: bool) -> dict[str, str]:
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what} {item!r}: expected KEY=VALUE")
        if not eq:
            if not from_env:
                value = ""
            elif key in os.environ:
                value = os.environ[key]
            else:
                continue  # docker: a --build-arg KEY not set in the environment is ignored
        out[key] = value
    return out


def _secrets(items: list[str]) -> dict[str, bytes]:
    out = {}
    for item in items:
        fields = dict(f.partition("=")[::2] for f in item.split(","))
        sid = fields.get("id")
        src = fields.get("src") or fields.get("source")
        if not sid or (src is None and "env" not in fields):
            raise InvalidArgument(f"invalid --secret {item!r}: expected id=ID,src=FILE or id=ID,env=VAR")
        if src is not None:
            try:
                out[sid] = open(src, "rb").read()
            except OSError as err:
                raise InvalidArgument(f"--secret {sid}: cannot read {src}: {err.strerror}") from None
        elif fields["env"] in os.environ:
            out[sid] = os.environ[fields["env"]].encode()
        else:
            raise InvalidArgument(f"--secret {sid}: environment variable {fields['env']} is not set")
    return out


def _volumes(items: list[str]) -> list[tuple[str, str, bool]]:
    out = []
    for item in items:
        parts = item.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/"):
            raise InvalidArgument(f"invalid --volume {item!r}: expected /HOST/PATH:/CONTAINER/PATH[:ro|rw]")
        mode = parts[2] if len(parts) == 3 else "rw"
        if mode not in ("ro", "rw"):
            raise InvalidArgument(f"invalid --volume {item!r}: mode must be ro or rw")
        if not os.path.exists(parts[0]):
            raise InvalidArgument(f"--volume {item}: {parts[0]} does not exist")
        out.append((os.path.abspath(parts[0]), parts[1], mode == "ro"))
    return out


def _host_ca(args) -> tuple[list[tuple[str, str, bool]], dict[str, str]]:
    if args.host_ca is None:
        return [], {}
    from krat.engine import hostca

    return [(hostca.host_bundle(args.host_ca or None), hostca.TARGET, True)], hostca.env()


def _progress(args, explain: bool):
    from krat.build.progress import PlainProgress, QuietProgress, TtyProgress

    mode = "quiet" if args.quiet else args.progress
    if mode == "auto":
        mode = "tty" if sys.stderr.isatty() else "plain"
    return {"quiet": QuietProgress, "tty": TtyProgress, "plain": PlainProgress}[mode](sys.stderr, explain)


def main(ctx, argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        return _build(ctx, args)
    except KratError as err:
        err.exit_code = 1  # as `docker build`: every failed build exits 1
        raise


def _build(ctx, args) -> int:
    from krat.build import build_image
    from krat.oci.reference import parse_reference

    ca_volumes, run_env = _host_ca(args)
    image_id = build_image(ctx.paths, args.context, tags=args.tag, dockerfile=args.file,
                           build_args=_pairs(args.build_arg, "--build-arg", True), target=args.target,
                           no_cache=args.no_cache, pull=args.pull, labels=_pairs(args.label, "--label", False),
                           network=args.network, progress=_progress(args, args.explain),
                           secrets=_secrets(args.secret), volumes=_volumes(args.volume) + ca_volumes,
                           run_env=run_env)
    if args.iidfile:
        with open(args.iidfile, "w") as f:
            f.write(image_id)
    if not args.quiet:
        for tag in args.tag:
            sys.stderr.write(f"Successfully tagged {parse_reference(tag).familiar}\n")
    sys.stdout.write(image_id + "\n")
    return 0
