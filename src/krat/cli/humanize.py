"""Docker's human-readable numbers: sizes ("4.26MB", decimal units) and ages ("2 hours ago"),
plus a small subset of Go templates (`{{.Field}}`, `{{json .}}`, `\\t`) for `--format`."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

from krat.engine.state import human_duration  # noqa: F401 - one definition, shared with ps

_UNITS = ["B", "kB", "MB", "GB", "TB", "PB"]


def human_size(size: float) -> str:
    """Like go-units HumanSizeWithPrecision(size, 3): 4.26MB, 123kB, 0B."""
    i = 0
    while size >= 1000 and i < len(_UNITS) - 1:
        size /= 1000.0
        i += 1
    text = f"{size:.3g}"
    if "e" in text:
        text = f"{size:.0f}"
    return f"{text}{_UNITS[i]}"


def parse_rfc3339(text: str) -> float | None:
    """Seconds since the epoch of an RFC 3339 time (nanoseconds allowed); None if unparsable."""
    if not text:
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        return None
    base = datetime.fromisoformat(m[1] + ("+00:00" if m[3] == "Z" else m[3]))
    return base.timestamp() + (float("0" + m[2]) if m[2] else 0.0)


def ago(timestamp: float | None, now: float | None = None) -> str:
    if timestamp is None:
        return "N/A"
    return human_duration(max(0.0, (now or time.time()) - timestamp)) + " ago"


_FIELD = re.compile(r"\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}")


def render(template: str, obj: dict) -> str:
    """Fill `{{.Key}}`, `{{.A.B}}`, `{{json .}}` and `{{json .Key}}` from `obj`."""
    def value(match: re.Match) -> str:
        as_json, path = match[1], match[2]
        cur: object = obj
        for part in filter(None, path.split(".")):
            cur = cur.get(part, "") if isinstance(cur, dict) else ""
        if as_json:
            return json.dumps(cur, separators=(",", ":"))
        if isinstance(cur, (dict, list)):
            return json.dumps(cur)
        return "" if cur is None else str(cur)

    return _FIELD.sub(value, template.replace("\\t", "\t").replace("\\n", "\n"))


def table(rows: list[list[str]]) -> str:
    """Columns padded like Docker's tabwriter (minimum width 10, padding 3)."""
    if not rows:
        return ""
    widths = [max(7, max(len(r[i]) for r in rows if i < len(r))) for i in range(max(len(r) for r in rows))]
    lines = []
    for r in rows:
        cells = [c.ljust(widths[i] + 3) if i < len(r) - 1 else c for i, c in enumerate(r)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines) + "\n"
