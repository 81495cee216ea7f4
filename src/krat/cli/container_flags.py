"""The flags `run` and `create` share, and their translation into a ContainerSpec."""

from __future__ import annotations

import os

from krat.cli.options import ArgumentParser
from krat.engine import spec as S
from krat.errors import InvalidArgument


def add_flags(p: ArgumentParser) -> None:
    a = p.add_argument
    a("--name", default="")
    a("-d", "--detach", action="store_true")
    a("-i", "--interactive", action="store_true")
    a("-t", "--tty", action="store_true")
    a("--rm", action="store_true")
    a("-e", "--env", action="append", default=[])
    a("--env-file", action="append", default=[])
    a("-w", "--workdir", default="")
    a("-u", "--user", default="")
    a("-h", "--hostname", default="")
    a("--entrypoint", default=None)
    a("--init", action="store_true")
    a("-l", "--label", action="append", default=[])
    a("--restart", default="no")
    a("--stop-signal", default="")
    a("--stop-timeout", type=int, default=None)
    a("--shm-size", default="")
    a("--ulimit", action="append", default=[])
    a("--device", action="append", default=[])
    a("--pid", default="")
    a("--ipc", default="private")
    a("-m", "--memory", default="")
    a("--memory-swap", default="")
    a("--cpus", default="")
    a("-c", "--cpu-shares", type=int, default=0)
    a("--pids-limit", type=int, default=0)
    a("--privileged", action="store_true")
    a("--cap-add", action="append", default=[])
    a("--cap-drop", action="append", default=[])
    a("--security-opt", action="append", default=[])
    a("--read-only", action="store_true")
    a("--runtime", default="")
    a("--log-opt", action="append", default=[])
    a("--log-driver", default="json-file")
    a("--network", "--net", default="bridge")
    a("--add-host", action="append", default=[])
    a("--tmpfs", action="append", default=[])
    from krat.cli import netflags

    netflags.add_arguments(p)   # -p -P --dns -v --mount --volumes-from ... (the net area's)
    a("image")
    a("command", nargs="...")


def new_parser(verb: str) -> ArgumentParser:
    p = ArgumentParser(verb, add_help=False)
    p.add_argument("--help", action="help")
    add_flags(p)
    return p


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
