"""krat run: create a container from an image and start it (foreground, or -d)."""

from __future__ import annotations

HELP = "Create and run a new container from an image"
FAST_EXIT = True  # see krat.cli.main.cli


def main(ctx, argv: list[str]) -> int:
    import gc
    import os

    # No cyclic garbage collection while the command sets up: its passes walk every object the
    # imports make (~2 ms in ~19 passes); it is back on, over what is made later, for the wait.
    global _collect_later
    _collect_later = gc.isenabled()
    gc.disable()

    from krat.engine.monitorspawn import await_early, reap_early, spawn_early
    from krat.engine.names import cgroups_path, new_id

    cid = new_id()
    run_dir = os.path.join(ctx.paths.run_containers, cid)
    pid, sock = spawn_early(cid, cgroups_path(cid), run_dir,  # first: the monitor starts while we load the engine
                            new_netns=asks_network_none(argv), removal=asks_removal(argv),
                            detached=asks_detach(argv))
    try:
        return run(ctx, argv, (cid, pid, sock))
    finally:
        await_early(pid, sock)  # a monitor never configured: wait until it has gone
        reap_early(pid)         # one that has exited (with an --rm container, say); else init will
        if _collect_later:      # -d, or a failure: as the caller had it
            _collect_later = False
            gc.enable()


def asks_network_none(argv: list[str]) -> bool:
    """Whether the command line says `--network none` (before parsing it: a hint for the
    monitor, whose runtime child then makes the container's network namespace ahead). Only
    then: on a bridge the runtime joins a namespace the CLI made, and one made ahead for
    nothing would hold up the kernel's removal of the container's own for ~20 ms at exit
    (namespaces are freed by one worker, one batch after the other). A wrong guess (the
    words in the container's command) costs only that time, never correctness."""
    for i, arg in enumerate(argv):
        if arg in ("--network=none", "--net=none") or (
                arg in ("--network", "--net") and argv[i + 1:i + 2] == ["none"]):
            return True
    return False


def asks_removal(argv: list[str]) -> bool:
    """Whether the command line says --rm (before parsing it, as asks_network_none: a hint for
    the early monitor, which then loads what the removal needs before "go", not after). A
    wrong guess (the word in the container's command) costs only those imports."""
    return any(arg in ("--rm", "--rm=true", "--rm=1") for arg in argv)


def asks_detach(argv: list[str]) -> bool:
    """Whether the command line says -d (before parsing it, as asks_network_none: a hint for
    the early monitor, which creates a foreground run's container itself, and leaves a
    detached one's to a child, keeping its own memory small while it idles). A short-option
    cluster with a d counts too (-dit). A wrong guess costs only a few milliseconds, or
    ~1.4 MiB in that monitor, never correctness."""
    return any(arg in ("--detach", "--detach=true", "--detach=1")
               or (arg.startswith("-") and not arg.startswith("--") and "d" in arg[1:] and arg[1:].isalpha())
               for arg in argv)


def run(ctx, argv: list[str], early) -> int:
    from krat.cli.container_flags import build_spec, parse_flags

    args = parse_flags("run", HELP, argv)
    if args is None:
        return 0  # --help
    spec, name, netvol = build_spec(args)
    from krat.engine.containers import ContainerService, StartError

    svc = ContainerService(ctx.paths)
    if args.pull != "missing" or not svc.has_image(spec.image):
        from krat.cli.registry_opts import pull_for_run

        pull_for_run(ctx, spec.image, args)  # --pull missing|always|never, as Docker
    c = svc.create(spec, name, netvol, prestart={"attach": not args.detach, "owner": True,
                                                       "early": early})
    try:
        sock = svc.start(c, attach=not args.detach, owner=True)
    except BaseException as err:
        try:
            svc.remove(c.id, force=True)
        except Exception:
            pass
        if isinstance(err, StartError):
            raise
        raise
    if args.detach:
        print(c.id)
        return 0
    from krat.cli.session import attach_session

    _collector_back_on()
    c = svc.running(c)
    pid = c.row.pid
    handed: dict = {}
    # what the removal needs (--rm), made while the container runs rather than after its exit
    prepared = (svc.monitor_config(c), svc.networking()) if spec.auto_remove else None
    code = attach_session(sock, pid, stdin=spec.open_stdin, tty=spec.tty,
                          wait_final=spec.restart.name == "no", result=handed)
    if handed.get("cleanup"):
        svc.finish_removal(c, sock, prepared)
    return 0 if code is None else code


_collect_later = False   # main turned the collector off, and turns it back on


def _collector_back_on() -> None:
    """From the attach on the command waits, however long: the collector again, over what is
    made from now on (frozen: a pass over everything the set-up made would cost what turning
    it off saved)."""
    global _collect_later
    if _collect_later:
        import gc

        _collect_later = False
        gc.freeze()
        gc.enable()
