"""`krat logout [SERVER]`"""

from __future__ import annotations

from krat.cli.options import ArgumentParser

HELP = "Log out from a registry"


def main(ctx, argv: list[str]) -> int:
    parser = ArgumentParser("logout", description=HELP)
    parser.add_argument("--authfile", default=None, metavar="FILE")
    parser.add_argument("server", nargs="?", default=None, metavar="SERVER")
    args = parser.parse_args(argv)

    import os

    from krat.engine.registries import logout

    if args.authfile:
        os.environ["REGISTRY_AUTH_FILE"] = args.authfile
    host, removed = logout(args.server)
    print(f"Removing login credentials for {host}" if removed else f"Not logged in to {host}")
    return 0
