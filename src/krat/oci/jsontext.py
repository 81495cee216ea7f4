"""JSON text to and from Python values through the interpreter's C accelerator, `_json`.

`import json` costs ~7 ms of start-up here (json.decoder imports re, which imports enum);
`krat exec` is ~20 ms in all, and it reads and writes a few small documents (config.json,
state.json, the runtime's sync messages). The C scanner and encoder are what the json
package itself runs, so `loads` and `dumps` give json.loads's and json.dumps's results (the
default separators, ensure_ascii). Malformed text goes to the json package, so its errors
(json.JSONDecodeError, a ValueError) are the usual ones.
"""

from __future__ import annotations

try:
    import _json
except ImportError:  # an interpreter without the accelerator: the json package does it all
    _json = None  # type: ignore[assignment]

_WHITESPACE = " \t\n\r"


def _constant(name: str) -> float:
    return float(name.lower().replace("infinity", "inf"))


class _DecoderOptions:
    """What the C scanner reads from a json.JSONDecoder: its defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)


def _unsupported(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_scan = _json.make_scanner(_DecoderOptions) if _json is not None else None
_encode = (_json.make_encoder(None, _unsupported, _json.encode_basestring_ascii, None, ": ", ", ", False, False,
                              True) if _json is not None else None)


def loads(text: str | bytes) -> object:
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    if _scan is not None:
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = _scan(text, start)
        except Exception:  # noqa: BLE001 - malformed: json.loads below raises its own error
            pass
        else:
            if not text[end:].strip(_WHITESPACE):
                return value
    import json

    return json.loads(text)


def dumps(value: object) -> str:
    if _encode is None:
        import json

        return json.dumps(value)
    return "".join(_encode(value, 0))
