"""krat-runtime: an OCI runtime command line with runc's verbs and flags.

    krat-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--systemd-cgroup]
                 create|start|state|kill|delete|run|list|pause|resume|ps|exec ...

Errors print one line on stderr (and to --log, in runc's JSON shape when asked) and
exit 1, except a command that cannot be run: 127 not found, 126 not executable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from krat.errors import ContainerCommandError, InvalidArgument, KratError
from krat.runtime.records import DEFAULT_ROOT


VERBS = ("create", "run", "start", "state", "kill", "delete", "list", "pause", "resume", "ps", "exec")
_GLOBAL_VALUES = ("--root", "--log", "--log-format", "--rootless", "--criu")


def _split(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """Global options, the verb, and the verb's arguments (so only one sub-parser is ever built)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in VERBS:
            return argv[:i], arg, argv[i + 1:]
        if arg in _GLOBAL_VALUES:
            i += 2
        else:
            i += 1
    return argv, None, []


def _global_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="krat-runtime", description="OCI runtime of krat",
                                usage="krat-runtime [global options] {" + ",".join(VERBS) + "} ...")
    p.add_argument("--root", default=os.environ.get("KRAT_RUNTIME_ROOT", DEFAULT_ROOT))
    p.add_argument("--log", default="")
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true", help="accepted and ignored (cgroupfs is used)")
    p.add_argument("--rootless", default="auto", help="accepted and ignored")
    p.add_argument("--criu", default="", help="accepted and ignored")
    return p


def _verb_parser(verb: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"krat-runtime {verb}")
    if verb in ("create", "run"):
        p.add_argument("--bundle", "-b", default=".")
        p.add_argument("--pid-file", default=None)
        p.add_argument("--console-socket", default=None)
        p.add_argument("--no-new-keyring", action="store_true")
        p.add_argument("--no-pivot", action="store_true", help="ignored: krat always uses pivot_root")
        p.add_argument("--preserve-fds", type=int, default=0)
        if verb == "run":
            p.add_argument("--detach", "-d", action="store_true")
            p.add_argument("--keep", action="store_true")
    elif verb == "kill":
        p.add_argument("--all", "-a", action="store_true")
    elif verb == "delete":
        p.add_argument("--force", "-f", action="store_true")
    elif verb in ("list", "ps"):
        p.add_argument("--format", "-f", choices=("table", "json"), default="table")
        if verb == "list":
            p.add_argument("--quiet", "-q", action="store_true")
    elif verb == "exec":
        _exec_options(p)
    if verb != "list":
        p.add_argument("id")
    if verb == "kill":
        p.add_argument("signal", nargs="?", default="SIGTERM")
    if verb == "exec":
        p.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _exec_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--process", "-p", default=None)
    p.add_argument("--tty", "-t", action="store_true")
    p.add_argument("--console-socket", default=None)
    p.add_argument("--detach", "-d", action="store_true")
    p.add_argument("--pid-file", default=None)
    p.add_argument("--cwd", default=None)
    p.add_argument("--env", "-e", action="append", default=[])
    p.add_argument("--user", "-u", default=None)
    p.add_argument("--cap", "-c", action="append", default=[])
    p.add_argument("--no-new-privs", action="store_true")


def _parse(argv: list[str]) -> argparse.Namespace:
    head, verb, rest = _split(argv)
    glob = _global_parser()
    if verb is None:
        glob.parse_args(head)  # --help, or an unknown option
        glob.error("a command is required: " + ", ".join(VERBS))
    args = glob.parse_args(head)
    args.verb = verb
    return _verb_parser(verb).parse_args(rest, namespace=args)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except KratError as err:
        _log_error(args, err.message)
        return err.exit_code if isinstance(err, ContainerCommandError) else 1
    except OSError as err:
        _log_error(args, f"{err.strerror or err}" + (f": {err.filename}" if err.filename else ""))
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - the one boundary where a bug becomes a message
        if args.debug:
            import traceback

            traceback.print_exc()
        _log_error(args, f"internal error: {type(err).__name__}: {err}")
        return 1


def _log_error(args: argparse.Namespace, message: str) -> None:
    first = message.splitlines()[0] if message else "error"
    sys.stderr.write(f"krat-runtime: {first if not args.debug else message}\n")
    if args.log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = (json.dumps({"level": "error", "msg": first, "time": stamp}) if args.log_format == "json"
                else f'time="{stamp}" level=error msg="{first}"')
        try:
            with open(args.log, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass


def _dispatch(args: argparse.Namespace) -> int:
    from krat.runtime import container as c

    root = args.root
    if args.verb == "create":
        from krat.runtime.creation import create

        create(args.id, args.bundle, root, console_socket=args.console_socket, pid_file=args.pid_file,
                 preserve_fds=args.preserve_fds)
    elif args.verb == "run":
        return _run(args)
    elif args.verb == "start":
        c.start(args.id, root)
    elif args.verb == "state":
        print(json.dumps(c.state(args.id, root).to_json(), indent=2))
    elif args.verb == "kill":
        c.kill(args.id, args.signal, args.all, root)
    elif args.verb == "delete":
        c.delete(args.id, args.force, root)
    elif args.verb == "pause":
        c.pause(args.id, root)
    elif args.verb == "resume":
        c.resume(args.id, root)
    elif args.verb == "list":
        _list(c.list_states(root), args)
    elif args.verb == "ps":
        pids = c.processes(args.id, root)
        print(json.dumps(pids) if args.format == "json" else _ps_table(pids))
    elif args.verb == "exec":
        return _exec(args)
    return 0


def _run(args: argparse.Namespace) -> int:
    """create + start; unless detached, wait, forward signals, delete, and exit with its status."""
    import signal

    from krat.runtime import container as c

    from krat.runtime.creation import create

    pid = create(args.id, args.bundle, args.root, console_socket=args.console_socket, pid_file=args.pid_file,
                   preserve_fds=args.preserve_fds)
    try:
        c.start(args.id, args.root)
    except KratError:
        c.delete(args.id, True, args.root)
        raise
    if args.detach:
        return 0
    forwarded = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
    for sig in forwarded:
        signal.signal(sig, lambda number, _frame: os.kill(pid, number))
    status = c.wait(pid)
    if not args.keep:
        c.delete(args.id, True, args.root)
    return status


def _exec(args: argparse.Namespace) -> int:
    from krat.oci.process import Process
    from krat.runtime import container as c

    if args.process:
        try:
            with open(args.process) as f:
                process = Process.from_json(json.load(f))
        except (OSError, ValueError) as err:
            raise InvalidArgument(f"--process {args.process}: {err}") from err
    else:
        process = _process_from_flags(args)
    from krat.runtime.tenant import exec_process

    pid = exec_process(args.id, process, args.root, console_socket=args.console_socket, pid_file=args.pid_file)
    if args.detach:
        return 0
    return c.wait(pid)


def _process_from_flags(args: argparse.Namespace) -> "object":
    from krat.oci.process import Process, User
    from krat.oci.records import replace
    from krat.oci.runtime import Spec

    if not args.args:
        raise InvalidArgument("exec needs a command (or --process FILE)")
    from krat.runtime.records import Store

    with open(os.path.join(Store(args.root).dir(args.id), "config.json")) as f:
        base: Process = Spec.from_json(json.load(f)).process
    user = base.user
    if args.user:
        uid, _, gid = args.user.partition(":")
        if not uid.isdigit() or not (gid or "0").isdigit():
            raise InvalidArgument(f"--user {args.user!r}: expected UID[:GID] as numbers")
        user = User(int(uid), int(gid or 0))
    caps = base.capabilities
    if args.cap and caps is not None:
        extra = tuple(args.cap)
        caps = replace(caps, bounding=caps.bounding + extra, effective=caps.effective + extra,
                       permitted=caps.permitted + extra)
    return Process(tuple(args.args), args.cwd or base.cwd, base.env + tuple(args.env), args.tty, None, user, caps,
                   base.rlimits, args.no_new_privs or base.no_new_privileges)


def _list(states: list, args: argparse.Namespace) -> None:
    if args.quiet:
        for s in states:
            print(s.id)
    elif args.format == "json":
        print(json.dumps([s.to_json() for s in states]))
    else:
        print(f"{'ID':<20} {'PID':<8} {'STATUS':<10} {'BUNDLE':<40} {'CREATED':<32} OWNER")
        for s in states:
            doc = s.to_json()
            print(f"{s.id:<20} {doc['pid']:<8} {s.status.value:<10} {s.bundle:<40} {s.created:<32} root")


def _ps_table(pids: list[int]) -> str:
    lines = ["PID    CMD"]
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "?"
        lines.append(f"{pid:<6} {cmd}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
