"""`krat [GLOBAL OPTIONS] VERB [ARGS...]`: global options, verb dispatch, error boundary.

argparse rather than click: click costs ~30 ms of imports on every call, a fifth of
krat's whole `run --rm` budget. Verbs are modules imported on demand. This module
itself imports nothing beyond the interpreter's own start-up set and krat.oci.records
(no dataclasses, typing or re): `krat exec` spends ~20 ms in all, and each of those costs 3-15 ms.
"""

from __future__ import annotations

import os
import sys

from krat.errors import KratError
from krat.oci.records import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from krat.engine.config import Paths

# Docker's management commands (`krat container ls`) mapped onto the flat verbs.
GROUP_ALIASES: dict[str, dict[str, str]] = {
    "container": {
        "attach": "attach", "commit": "commit", "cp": "cp", "create": "create", "diff": "diff",
        "exec": "exec", "export": "export", "inspect": "container_inspect", "kill": "kill",
        "logs": "logs", "ls": "ps", "list": "ps", "ps": "ps", "pause": "pause", "port": "port",
        "prune": "container_prune", "rename": "rename", "restart": "restart", "rm": "rm",
        "run": "run", "start": "start", "stats": "stats", "stop": "stop", "top": "top",
        "unpause": "unpause", "update": "update", "wait": "wait",
    },
    "image": {
        "build": "build", "history": "history", "import": "import_", "inspect": "image_inspect",
        "load": "load", "ls": "images", "list": "images", "prune": "image_prune", "pull": "pull",
        "push": "push", "rm": "rmi", "save": "save", "tag": "tag",
    },
}

GLOBAL_HELP = """\
Usage: krat [OPTIONS] COMMAND [ARGS]...

A container engine: build, run and share containers.

Options:
  --root PATH       storage root (default /var/lib/krat, or $KRAT_ROOT)
  --runroot PATH    runtime state root (default /run/krat, or $KRAT_RUNROOT)
  -D, --debug       show tracebacks and debug output
  -v, --version     print the version and exit
  -h, --help        show this help

Commands:
"""


@record
class Context:
    """What every verb receives: where state lives and how to talk to the user."""

    root: str | None = None
    runroot: str | None = None
    debug: bool = False
    _paths: "Paths | None" = field(default=None, repr=False)

    @property
    def paths(self) -> "Paths":
        if self._paths is None:
            from krat.engine.config import Paths

            self._paths = Paths.resolve(self.root, self.runroot)
        return self._paths


# The verbs that are Python keywords, whose modules have a trailing underscore (import_.py);
# a set rather than the keyword module, whose import costs every command ~0.1 ms.
KEYWORD_VERBS = frozenset({"import"})


def module_for(verb: str) -> str:
    name = verb.replace("-", "_")
    return name + "_" if name in KEYWORD_VERBS else name


def load_verb(name: str):
    module = f"krat.cli.commands.{name}"
    try:
        __import__(module)  # not importlib.import_module: the importlib package loads warnings
    except ModuleNotFoundError as err:
        if err.name == module:
            return None
        raise
    return sys.modules[module]


def verbs() -> list[str]:
    import krat.cli.commands as pkg

    import pkgutil  # only help lists verbs; pkgutil costs ~7 ms of start-up

    return sorted(m.name.rstrip("_").replace("_", "-") for m in pkgutil.iter_modules(pkg.__path__))


def print_help() -> None:
    lines = [GLOBAL_HELP]
    for verb in verbs():
        if verb.startswith(("image-", "container-")):
            continue
        mod = load_verb(module_for(verb))
        lines.append(f"  {verb:<14}{getattr(mod, 'HELP', '')}\n")
    lines.append("\nRun 'krat COMMAND --help' for more information on a command.\n")
    sys.stdout.write("".join(lines))


def parse_globals(argv: list[str]) -> tuple[Context, list[str]]:
    from krat.errors import InvalidArgument

    ctx = Context(debug=bool(os.environ.get("KRAT_DEBUG")))
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.partition("=")
        if name in ("--root", "--runroot"):
            if not eq:
                i += 1
                if i >= len(argv):
                    raise InvalidArgument(f"flag needs an argument: {name}")
                value = argv[i]
            setattr(ctx, name[2:], value)
        elif arg in ("-D", "--debug"):
            ctx.debug = True
        elif arg in ("-v", "--version"):
            return ctx, ["version"]
        elif arg in ("-h", "--help"):
            return ctx, []
        else:
            raise InvalidArgument(f"unknown flag: {arg}")
        i += 1
    return ctx, argv[i:]


def dispatch(ctx: Context, argv: list[str]) -> int:
    from krat.errors import InvalidArgument

    if not argv:
        print_help()
        return 0
    verb, rest = argv[0], argv[1:]
    if verb == "help":
        print_help()
        return 0
    if verb == "version":
        from krat import __version__

        print(f"krat version {__version__}")
        return 0
    group = GROUP_ALIASES.get(verb)
    if group is not None and rest and rest[0] in group:
        verb, rest = group[rest[0]], rest[1:]
    mod = load_verb(module_for(verb))
    if mod is None:
        raise InvalidArgument(f"unknown command {verb!r}; see 'krat --help'")
    global _fast_exit
    _fast_exit = getattr(mod, "FAST_EXIT", False)
    return int(mod.main(ctx, rest) or 0)


def exit_now(code: int) -> None:
    """End a finished command without the interpreter's teardown (~5 ms of freeing modules)
    and without closing the database: closing SQLite's last connection checkpoints the WAL
    into the database and syncs twice (~10 ms, more when the disk is busy); the next krat
    command finds the WAL as it was left, valid and committed. Only stdio needs flushing."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


_fast_exit = False   # set by dispatch for a verb module with FAST_EXIT = True (see cli)


def cli() -> None:
    """The `krat` command: main(), then exit, through exit_now for verbs that allow it
    (FAST_EXIT: no threads, temporary files or finalizers left once they return)."""
    code = main()
    if _fast_exit:
        exit_now(code)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    ctx = Context(debug=bool(os.environ.get("KRAT_DEBUG")))
    try:
        ctx, rest = parse_globals(args)
        return dispatch(ctx, rest)
    except KratError as err:
        if ctx.debug:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"Error: {err.message}\n")
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # the boundary: no traceback reaches a user without --debug
        if ctx.debug:
            raise
        sys.stderr.write(f"Error: internal error: {type(err).__name__}: {err} (rerun with --debug)\n")
        return 125
