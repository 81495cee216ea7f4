"""The flags `run` and `create` share, and their translation into a ContainerSpec."""

from __future__ import annotations

import os

from krat.engine import spec as S
from krat.errors import InvalidArgument

# `run` and `create`: rows of krat.cli.flags tables (names, kind, default, metavar, help).
FLAGS = (
    ("--name", "str", "", "NAME", "Assign a name to the container"),
    ("-d --detach", "bool", False, "", "Run the container in the background and print its ID"),
    ("-i --interactive", "bool", False, "", "Keep STDIN open even if not attached"),
    ("-t --tty", "bool", False, "", "Allocate a pseudo-TTY"),
    ("--rm", "bool", False, "", "Remove the container (and its anonymous volumes) when it exits"),
    ("-e --env", "list", (), "KEY[=VALUE]", "Set an environment variable (KEY alone: its value here)"),
    ("--env-file", "list", (), "FILE", "Read environment variables from a file"),
    ("-w --workdir", "str", "", "DIR", "Working directory inside the container"),
    ("-u --user", "str", "", "USER[:GROUP]", "User name or UID (and group) to run as"),
    ("-h --hostname", "str", "", "NAME", "Host name of the container"),
    ("--entrypoint", "str", None, "COMMAND", "Override the image's ENTRYPOINT (\"\" clears it)"),
    ("--init", "bool", False, "", "Run an init (tini) as PID 1 that forwards signals and reaps zombies"),
    ("-l --label", "list", (), "KEY=VALUE", "Set metadata on the container"),
    ("--restart", "str", "no", "POLICY", "Restart policy: no (default), on-failure[:N], always, unless-stopped"),
    ("--stop-signal", "str", "", "SIGNAL", "Signal that stops the container (default: the image's, else SIGTERM)"),
    ("--stop-timeout", "int", None, "SECONDS", "Seconds to wait after the stop signal before SIGKILL"),
    ("--shm-size", "str", "", "BYTES", "Size of /dev/shm (default 64m)"),
    ("--ulimit", "list", (), "NAME=SOFT[:HARD]", "Set a resource limit (ulimit)"),
    ("--device", "list", (), "HOST[:CONTAINER[:PERMISSIONS]]", "Add a host device"),
    ("--pid", "str", "", "MODE", "PID namespace: host, or the container's own (default)"),
    ("--ipc", "str", "private", "MODE", "IPC namespace: private (default), shareable, host, none, container:NAME"),
    ("-m --memory", "str", "", "BYTES", "Memory limit"),
    ("--memory-swap", "str", "", "BYTES", "Memory plus swap limit (-1: unlimited swap)"),
    ("--cpus", "str", "", "NUMBER", "Number of CPUs"),
    ("-c --cpu-shares", "int", 0, "SHARES", "CPU shares (relative weight)"),
    ("--pids-limit", "int", 0, "N", "Limit on the number of processes (-1: unlimited)"),
    ("--privileged", "bool", False, "", "Give the container every capability and the host's devices"),
    ("--cap-add", "list", (), "CAP", "Add a Linux capability"),
    ("--cap-drop", "list", (), "CAP", "Drop a Linux capability"),
    ("--security-opt", "list", (), "OPTION", "Security option: no-new-privileges, seccomp=unconfined|FILE"),
    ("--read-only", "bool", False, "", "Mount the container's root filesystem read-only"),
    ("--runtime", "str", "", "RUNTIME", "OCI runtime for this container (krat's own by default)"),
    ("--log-opt", "list", (), "KEY=VALUE", "Log option: max-size, max-file"),
    ("--log-driver", "str", "json-file", "DRIVER", "Logging driver (json-file)"),
    ("--pull", "str", "missing", "POLICY", "Pull the image before running: missing (default), always, never"),
    ("--platform", "str", None, "OS/ARCH[/VARIANT]", "The platform to pull if the image is a multi-platform one"),
)

USAGE = "[OPTIONS] IMAGE [COMMAND] [ARG...]"
_tables: dict = {}


def parse_flags(verb: str, summary: str, argv: list[str]):
    """`krat run|create` flags (these, the engine's and the net area's; see krat.cli.flags):
    the parsed flags with .image and .command, or None once --help has been printed."""
    table = _tables.get(verb)
    if table is None:
        from krat.cli import netflags
        from krat.cli.flags import FlagTable

        rows = FLAGS + netflags.ENGINE_FLAGS + netflags.FLAGS
        table = _tables[verb] = FlagTable(f"krat {verb}", USAGE, summary, rows, ("image", "command"))
    return table.parse(argv)


def _security(args) -> S.Security:
    nnp, seccomp = False, "default"
    for opt in args.security_opt:
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if key == "no-new-privileges" and value in ("", "true", "false"):
            nnp = value != "false"
        elif key == "seccomp" and value:
            seccomp = "unconfined" if value == "unconfined" else _read_profile(value)
        elif key in ("apparmor", "label") and value:
            continue  # no LSM in krat: accepted and ignored, as Docker does on hosts without one
        else:
            raise InvalidArgument(f"invalid --security-opt {opt!r}: expected no-new-privileges or seccomp=unconfined|FILE")
    from krat.engine.ocigen import normalise_cap

    for cap in args.cap_add + args.cap_drop:
        normalise_cap(cap)
    return S.Security(privileged=args.privileged, cap_add=tuple(args.cap_add), cap_drop=tuple(args.cap_drop),
                      no_new_privileges=nnp, seccomp=seccomp, read_only=args.read_only)


def _read_profile(path: str) -> str:
    import json

    try:
        with open(path) as f:
            text = f.read()
    except OSError as err:
        raise InvalidArgument(f"cannot read seccomp profile {path}: {err.strerror}") from None
    try:
        json.loads(text)
    except ValueError as err:
        raise InvalidArgument(f"{path}:{err.lineno}: invalid seccomp profile: {err.msg}") from None
    return text


def _env(args) -> tuple[str, ...]:
    env: list[str] = []
    for path in args.env_file:
        try:
            with open(path) as f:
                content = f.read()
        except OSError as err:
            raise InvalidArgument(f"cannot read env file {path}: {err.strerror}") from None
        env += S.parse_env_file(path, content, os.environ.get)
    for item in args.env:
        value = S.parse_env_line(item, os.environ.get)
        if value is not None:
            env.append(value)
    return tuple(env)


def _resources(args) -> S.Resources:
    memory = S.parse_memory(args.memory) if args.memory else 0
    swap = S.parse_memory_swap(args.memory_swap) if args.memory_swap else 0
    if swap > 0 and memory and swap < memory:
        raise InvalidArgument("--memory-swap must be at least --memory (it is memory plus swap)")
    if swap and not memory:
        raise InvalidArgument("--memory-swap needs --memory")
    if args.pids_limit < -1:
        raise InvalidArgument(f"invalid --pids-limit {args.pids_limit}")
    return S.Resources(memory=memory, memory_swap=swap, nano_cpus=S.parse_cpus(args.cpus) if args.cpus else 0,
                       cpu_shares=args.cpu_shares, pids_limit=max(args.pids_limit, 0))


def build_spec(args) -> tuple[S.ContainerSpec, str, object]:
    """(spec, name, networks-and-mounts request) from parsed flags; InvalidArgument names the bad value."""
    from krat.cli import netflags

    netvol = netflags.request_from(args)
    name = S.parse_name(args.name) if args.name else ""
    if args.log_driver != "json-file":
        raise InvalidArgument(f"unsupported log driver {args.log_driver!r}: krat writes json-file logs")
    if args.pid not in ("", "host"):
        raise InvalidArgument(f"invalid --pid {args.pid!r}: expected host")
    if args.ipc not in ("private", "shareable", "host", "none") and not args.ipc.startswith("container:"):
        raise InvalidArgument(f"invalid --ipc {args.ipc!r}")
    entrypoint = None if args.entrypoint is None else (() if args.entrypoint == "" else (args.entrypoint,))
    spec = S.ContainerSpec(
        image=args.image, command=tuple(args.command), entrypoint=entrypoint, env=_env(args),
        working_dir=args.workdir, user=args.user, hostname=args.hostname, tty=args.tty,
        open_stdin=args.interactive, labels=S.parse_labels(args.label), restart=S.parse_restart(args.restart),
        stop_signal=args.stop_signal, stop_timeout=args.stop_timeout,
        shm_size=S.parse_size(args.shm_size, "--shm-size") if args.shm_size else 64 << 20,
        ulimits=tuple(S.parse_ulimit(u) for u in args.ulimit),
        devices=tuple(S.parse_device(d) for d in args.device),
        network_mode=S.parse_network(args.network), pid_mode=args.pid, ipc_mode=args.ipc,
        mounts=tuple(S.parse_tmpfs(t) for t in args.tmpfs),
        extra_hosts=tuple(S.parse_add_host(h) for h in args.add_host),
        resources=_resources(args), security=_security(args), init=args.init, auto_remove=args.rm,
        log=S.parse_log_opts(args.log_opt), runtime=args.runtime,
    )
    if spec.stop_signal:
        from krat.engine.containers import signal_number

        signal_number(spec.stop_signal)
    return spec, name, netvol
