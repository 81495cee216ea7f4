"""Options every registry verb shares: --tls-verify, --cert-dir, --creds, --platform."""

from __future__ import annotations

from pathlib import Path

from krat.errors import InvalidArgument

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_bool(text: str) -> bool:
    value = text.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidArgument(f"invalid boolean {text!r}: use true or false")


def add_access_options(parser, platform: bool = False) -> None:
    parser.add_argument("--tls-verify", type=parse_bool, nargs="?", const=True, default=None, metavar="BOOL",
                        help="require HTTPS and verify certificates (default: true, except loopback "
                             "and registries marked insecure in registries.conf)")
    parser.add_argument("--cert-dir", type=Path, default=None, metavar="DIR",
                        help="use the *.crt (CA) and *.cert/*.key files in DIR for this registry")
    parser.add_argument("--creds", default=None, metavar="USER[:PASS]",
                        help="credentials for this call instead of the stored ones")
    parser.add_argument("--authfile", default=None, metavar="FILE",
                        help="credentials file (default $REGISTRY_AUTH_FILE or ~/.config/krat/auth.json)")
    if platform:
        parser.add_argument("--platform", default=None, metavar="OS/ARCH[/VARIANT]",
                            help="pick this platform from a multi-platform image")


def access_from(args):
    import os

    from krat.engine.registries import Access

    if args.authfile:
        os.environ["REGISTRY_AUTH_FILE"] = args.authfile
    user = password = None
    if args.creds:
        user, _, password = args.creds.partition(":")
        if not user:
            raise InvalidArgument("--creds needs USER[:PASS]")
        if not password:
            import getpass

            password = getpass.getpass("Password: ")
    return Access(tls_verify=args.tls_verify, cert_dir=args.cert_dir, username=user, password=password,
                  platform=getattr(args, "platform", None))


def pull_for_run(ctx, image: str, args) -> None:
    """Pull `image` as the policy says, with progress on stderr like `docker run` (quiet
    until a pull really starts, so a failure stays one line)."""
    import sys

    from krat.cli.progress import ProgressPrinter
    from krat.engine.registries import Access, PullPolicy, ensure_image

    policy = PullPolicy.parse(args.pull)
    printer = ProgressPrinter(sys.stderr)
    started = []

    def listener(event) -> None:
        if not started:
            started.append(True)
            sys.stderr.write(f"Unable to find image '{image}' locally\n" if policy is PullPolicy.MISSING
                             else f"Pulling {image}\n")
        printer(event)

    ensure_image(ctx.paths, image, policy, Access(platform=args.platform), listener=listener)
    if started:
        printer.finish()
