"""json.loads/json.dumps through the C accelerator alone, for the container start path.

`import json` loads json.decoder and json.encoder, which compile regular expressions
(re, enum, functools, collections: ~7 ms in a fresh `python -S`). The runtime child
reads config.json and writes a few small documents; `_json` (built in) does the work
either way. The output is byte-for-byte json.dumps's (default options), loads returns
what json.loads does, and any input the fast path does not take (an error, a BOM,
non-UTF-8 bytes) goes to json.loads itself, so errors read exactly as before.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["dumps", "loads"]


def _default(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


class _Context:
    """What _json.make_scanner reads from a json.JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


_scan = _json.make_scanner(_Context())
_WHITESPACE = " \t\n\r"


def dumps(obj: Any, sort_keys: bool = False) -> str:
    """json.dumps(obj) with the default options (and sort_keys)."""
    # A fresh encoder per call: its circular-reference markers live in the dict given here.
    encode = _json.make_encoder({}, _default, _json.encode_basestring_ascii, None, ": ", ", ", sort_keys, False, True)
    return "".join(encode(obj, 0))


def loads(text: str | bytes | bytearray) -> Any:
    """json.loads(text)."""
    try:
        s = text if isinstance(text, str) else text.decode("utf-8")
        start = len(s) - len(s.lstrip(_WHITESPACE))
        value, end = _scan(s, start)
        if s[end:].strip(_WHITESPACE) or s.startswith("\ufeff"):
            raise ValueError
        return value
    except (ValueError, StopIteration, RecursionError):
        import json

        return json.loads(text)
