"""Validating readers for spec documents: each takes a value and its dotted field name."""

from __future__ import annotations

from krat.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _fail(where: str, what: str) -> InvalidArgument:
    return InvalidArgument(f"{where}: {what}")


def _obj(v: Any, where: str) -> dict:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise _fail(where, "expected an object")
    return v


def _str(v: Any, where: str, default: str = "") -> str:
    if v is None:
        return default
    if not isinstance(v, str):
        raise _fail(where, "expected a string")
    return v


def _int(v: Any, where: str, default: int | None = None) -> int | None:
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(where, "expected an integer")
    return v


def _bool(v: Any, where: str) -> bool:
    if v is None:
        return False
    if not isinstance(v, bool):
        raise _fail(where, "expected true or false")
    return v


def _list(v: Any, where: str) -> list:
    if v is None:
        return []
    if not isinstance(v, list):
        raise _fail(where, "expected a list")
    return v


def _strs(v: Any, where: str) -> tuple[str, ...]:
    items = _list(v, where)
    if set(map(type, items)) <= {str}:   # the usual case, checked in C (seccomp: ~350 names)
        return tuple(items)
    return tuple(_str(x, f"{where}[{i}]") for i, x in enumerate(items))


def _prune(d: dict) -> dict:
    """Drop unset values so to_json writes only what was said."""
    return {k: v for k, v in d.items() if v not in (None, (), [], {}, "")}


