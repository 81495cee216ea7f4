"""A lean flag parser for verbs with many flags (`run`, `create`), read from a table.

`krat run` parses its ~60 flags on every call, between spawning its monitor and preparing
the container: argparse costs ~1.5 ms to import and ~3.5 ms to build that parser (an
Action object per option, per-option formatting state), more than the parse itself. A
table of tuples costs nothing to build; help is formatted only for --help.

The syntax is Docker's (spf13/pflag with interspersed arguments off):
  --flag VALUE, --flag=VALUE, -f VALUE, -fVALUE, -f=VALUE, -abc (bool shorthands in a
  group, the last may take a value), --bool / --bool=true|false, `--` ends the flags;
  the first argument that is not a flag is the first positional, and everything after
  it belongs to the positionals (the container's command keeps its own flags; a `--`
  right after the first positional is dropped, as argparse did: `krat run IMG -- CMD`).
A value is the next argument whatever it starts with (`-e -x` sets env to "-x").
Errors are Docker's, one line each: "unknown flag: --x", "unknown shorthand flag: 'x' in
-x", "flag needs an argument: --name", 'invalid argument "x" for "--cpu-shares" flag'.
"""

from __future__ import annotations

from krat.errors import InvalidArgument

# Kinds of flag (the second field of a table row; rows spell them as these literals, so a
# table is one constant of the module's bytecode).
BOOL = "bool"      # --rm: True when given (or --rm=true|false)
STR = "str"        # --name VALUE: the last one given wins
INT = "int"        # --cpu-shares N
LIST = "list"      # -e VALUE, repeatable: every value, in order

_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_FALSE = ("0", "f", "F", "false", "FALSE", "False")


class Args:
    """The parsed flags as attributes (their first long name, '-' as '_'), like argparse's Namespace."""

    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Args({self.__dict__!r})"


def dest(names: str) -> str:
    """The attribute of a row's flag: its first long name ('--dns-option --dns-opt' -> dns_option)."""
    for name in names.split():
        if name.startswith("--"):
            return name[2:].replace("-", "_")
    raise ValueError(names)


class FlagTable:
    """Rows of (names, kind, default, metavar, help): names like "-e --env" or "--net-alias";
    default is the value when the flag is absent (LIST: a tuple, copied into a new list)."""

    def __init__(self, prog: str, usage: str, summary: str, rows: tuple, positionals: tuple[str, str]) -> None:
        self.prog = prog              # "krat run"
        self.usage = usage            # "[OPTIONS] IMAGE [COMMAND] [ARG...]"
        self.summary = summary
        self.rows = rows
        self.positionals = positionals   # ("image", "command"): the first, then the rest
        self._index: dict | None = None

    def index(self) -> dict:
        """{"--name": row, "-e": row, ...} with each row as (dest, kind, default)."""
        if self._index is None:
            index = {}
            for names, kind, default, _metavar, _help in self.rows:
                entry = (dest(names), kind, default)
                for name in names.split():
                    index[name] = entry
            self._index = index
        return self._index

    def defaults(self) -> dict:
        return {dest(names): list(default) if kind == LIST else default
                for names, kind, default, _metavar, _help in self.rows}

    def parse(self, argv: list[str]) -> Args | None:
        """The flags and positionals of argv; None once --help has been printed."""
        index = self.index()
        values = self.defaults()
        i, n = 0, len(argv)
        while i < n:
            arg = argv[i]
            if arg == "--":
                i += 1
                break
            if arg[:1] != "-" or arg == "-":
                break
            if arg[1] == "-":
                name, eq, value = arg.partition("=")
                entry = index.get(name)
                if entry is None:
                    if name == "--help":
                        self.print_help()
                        return None
                    raise InvalidArgument(f"{self.prog}: unknown flag: {name}")
                if entry[1] == BOOL:
                    value = self._bool(name, value) if eq else True
                elif not eq:
                    i += 1
                    if i == n:
                        raise InvalidArgument(f"{self.prog}: flag needs an argument: {name}")
                    value = argv[i]
                self._store(values, entry, name, value)
            else:
                i = self._shorthands(argv, i, index, values)
            i += 1
        rest = argv[i:]
        if not rest:
            raise InvalidArgument(f'"{self.prog}" requires at least 1 argument; usage: {self.prog} {self.usage}')
        first, others = self.positionals
        values[first] = rest[0]
        values[others] = rest[2:] if rest[1:2] == ["--"] else rest[1:]   # `IMAGE -- CMD`, as krat always read it
        return Args(values)

    def _shorthands(self, argv: list[str], i: int, index: dict, values: dict) -> int:
        """-d, -it, -p80:80, -e=K=V, -e K=V: returns the index of the last argument used."""
        arg = argv[i]
        j = 1
        while j < len(arg):
            name = "-" + arg[j]
            entry = index.get(name)
            if entry is None:
                raise InvalidArgument(f"{self.prog}: unknown shorthand flag: {arg[j]!r} in {arg}")
            rest = arg[j + 1:]
            if entry[1] == BOOL:
                if rest[:1] == "=":
                    self._store(values, entry, name, self._bool(name, rest[1:]))
                    return i
                values[entry[0]] = True
                j += 1
                continue
            if rest:
                value = rest[1:] if rest[0] == "=" else rest
            else:
                i += 1
                if i == len(argv):
                    raise InvalidArgument(f"{self.prog}: flag needs an argument: {arg[j]!r} in {name}")
                value = argv[i]
            self._store(values, entry, name, value)
            return i
        return i

    def _bool(self, name: str, text: str) -> bool:
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise InvalidArgument(f'{self.prog}: invalid argument "{text}" for "{name}" flag: expected true or false')

    def _store(self, values: dict, entry: tuple, name: str, value) -> None:
        key, kind, _default = entry
        if kind == LIST:
            values[key].append(value)
        elif kind == INT:
            try:
                values[key] = int(value)
            except ValueError:
                raise InvalidArgument(f'{self.prog}: invalid argument "{value}" for "{name}" flag: '
                                      "expected an integer") from None
        else:
            values[key] = value

    def help(self) -> str:
        """Docker's layout: usage, summary, then every flag sorted by its long name."""
        lines = [f"Usage:  {self.prog} {self.usage}", "", self.summary, "", "Options:"]
        cells = []
        for names, kind, _default, metavar, text in self.rows:
            split = names.split()
            short = next((s for s in split if not s.startswith("--")), "")
            long = ", ".join(s for s in split if s.startswith("--"))
            left = f"{short + ', ' if short else '    '}{long}"
            if kind != BOOL:
                left += f" {metavar or ('list' if kind == LIST else kind)}"
            cells.append((dest(names), left, text))
        cells.append(("help", "    --help", "Print usage"))
        width = min(max(len(left) for _, left, _ in cells), 34)
        for _, left, text in sorted(cells):
            lines.append(f"  {left.ljust(width)}  {text}")
        return "\n".join(lines) + "\n"

    def print_help(self) -> None:
        import sys

        sys.stdout.write(self.help())


def add_to_argparse(parser, rows: tuple) -> None:
    """The same rows as argparse arguments (for a caller that builds its own argparse parser)."""
    for names, kind, default, metavar, text in rows:
        kwargs: dict = {"default": list(default) if kind == LIST else default, "help": text}
        if kind == BOOL:
            kwargs["action"] = "store_true"
        elif kind == LIST:
            kwargs["action"] = "append"
        elif kind == INT:
            kwargs["type"] = int
        parser.add_argument(*names.split(), **kwargs)
