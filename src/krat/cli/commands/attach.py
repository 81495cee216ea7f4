"""krat attach: attach local stdin/stdout/stderr to a running container (detach: ctrl-p ctrl-q)."""

from __future__ import annotations

HELP = "Attach local standard input, output, and error streams to a running container"


def main(ctx, argv: list[str]) -> int:
    from krat.cli.options import ArgumentParser
    from krat.cli.session import attach_session
    from krat.engine.attach import connect
    from krat.engine.containers import ContainerService
    from krat.errors import Conflict

    p = ArgumentParser("attach")
    p.add_argument("--no-stdin", action="store_true")
    p.add_argument("--sig-proxy", default="true", choices=["true", "false"])
    p.add_argument("container")
    args = p.parse_args(argv)
    svc = ContainerService(ctx.paths)
    c = svc.get(args.container)
    if c.row.status not in ("running", "paused", "restarting"):
        raise Conflict(f"you cannot attach to a stopped container {c.name}, start it first")
    try:
        sock = connect(svc.run_dir(c.id), stream=True)
    except OSError:
        raise Conflict(f"container {c.name} has no monitor to attach to") from None
    code = attach_session(sock, c.row.pid, stdin=c.spec.open_stdin and not args.no_stdin, tty=c.spec.tty,
                          wait_final=c.spec.restart.name == "no", sig_proxy=args.sig_proxy == "true")
    return 0 if code is None else code
