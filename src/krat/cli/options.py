"""Shared argument parsing for verbs: an argparse that reports errors as one line, exit 125."""

from __future__ import annotations

import argparse
import sys

from krat.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises InvalidArgument instead of printing usage and exiting 2."""

    def __init__(self, prog: str, description: str | None = None, **kwargs) -> None:
        super().__init__(prog=f"krat {prog}", description=description, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise InvalidArgument(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise SystemExit(status)


def parse_size(text: str, what: str = "size") -> int:
    """'512m', '1g', '100k', '1024' -> bytes (Docker's RAMInBytes units, binary)."""
    units = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    value = text.strip().lower()
    if value.endswith("b") and len(value) > 1 and value[-2] in units and value[-2] != "b":
        value = value[:-1]
    mult = 1
    if value and value[-1] in units:
        mult = units[value[-1]]
        value = value[:-1]
    try:
        number = float(value)
    except ValueError:
        raise InvalidArgument(f"invalid {what} {text!r}: expected a number with an optional unit b, k, m, g") from None
    if number < 0:
        raise InvalidArgument(f"invalid {what} {text!r}: must not be negative")
    return int(number * mult)


def for_each(refs: list[str], action) -> int:
    """Docker's multi-container verbs: print each ref that worked, one error line for each that did not (exit 1)."""
    from krat.errors import KratError

    code = 0
    for ref in refs:
        try:
            action(ref)
            print(ref)
        except KratError as err:
            sys.stderr.write(f"Error: {err.message}\n")
            code = 1
    return code


def remove_each(refs: list[str], remove) -> int:
    """`network rm` / `volume rm`: print each removed ref; one ref that fails is the error
    itself, several report each failure on a line and exit with the last one's code."""
    from krat.errors import KratError

    failed = None
    for ref in refs:
        try:
            remove(ref)
            print(ref)
        except KratError as err:
            if len(refs) == 1:
                raise
            sys.stderr.write(f"Error: {err.message}\n")
            failed = err
    return failed.exit_code if failed else 0


def run_subcommand(group: str, usage: str, subcommands: dict, ctx, argv: list[str]) -> int:
    """`krat GROUP SUB ARGS...` (network, volume, system): the usage text, or SUB's verb."""
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(usage)
        return 0
    sub = subcommands.get(argv[0])
    if sub is None:
        raise InvalidArgument(f"unknown command '{group} {argv[0]}'; see 'krat {group} --help'")
    return sub(ctx, argv[1:])
