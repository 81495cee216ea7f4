"""`krat login [OPTIONS] [SERVER]`"""

from __future__ import annotations

import sys

from krat.cli.options import ArgumentParser
from krat.errors import InvalidArgument

HELP = "Log in to a registry"


def main(ctx, argv: list[str]) -> int:
    from krat.cli.registry_opts import parse_bool

    parser = ArgumentParser("login", description=HELP)
    parser.add_argument("-u", "--username", default=None)
    parser.add_argument("-p", "--password", default=None)
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    parser.add_argument("--tls-verify", type=parse_bool, nargs="?", const=True, default=None, metavar="BOOL")
    parser.add_argument("--cert-dir", default=None, metavar="DIR")
    parser.add_argument("--authfile", default=None, metavar="FILE")
    parser.add_argument("server", nargs="?", default=None, metavar="SERVER")
    args = parser.parse_args(argv)

    import os
    from pathlib import Path

    from krat.engine.registries import Access, login

    if args.authfile:
        os.environ["REGISTRY_AUTH_FILE"] = args.authfile
    user, password = _ask(args)
    access = Access(tls_verify=args.tls_verify, cert_dir=Path(args.cert_dir) if args.cert_dir else None)
    login(args.server, user, password, access)
    print("Login Succeeded")
    return 0


def _ask(args) -> tuple[str, str]:
    if args.password_stdin:
        if args.password:
            raise InvalidArgument("--password and --password-stdin are mutually exclusive")
        if not args.username:
            raise InvalidArgument("must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
        return args.username, password
    user, password = args.username, args.password
    if password and not args.username:
        raise InvalidArgument("must provide --username with --password")
    if password:
        sys.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    if not sys.stdin.isatty() and (not user or not password):
        raise InvalidArgument("cannot ask for credentials: standard input is not a terminal (use -u and --password-stdin)")
    if not user:
        user = input("Username: ").strip()
    if not password:
        import getpass

        password = getpass.getpass("Password: ")
    return user, password
