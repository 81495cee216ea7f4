"""Docker-style output: aligned tables (Go tabwriter, padding 3) and simple Go templates."""

from __future__ import annotations

import json
import re

FIELD = re.compile(r"\{\{\s*(json\s+)?\.([\w.]*)\s*\}\}")


def render(template: str, fields: dict) -> str:
    """{{.Name}} and {{json .Name}} / {{json .}}; \\t and \\n as in Docker's templates."""
    def sub(m: re.Match) -> str:
        as_json, name = m.group(1), m.group(2)
        value = fields
        for part in filter(None, name.split(".")):
            value = value.get(part, "") if isinstance(value, dict) else ""
        if as_json:
            return json.dumps(value, separators=(",", ":"))
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return go_value(value)
        return "<no value>" if value is None else str(value)
    return FIELD.sub(sub, template.replace("\\t", "\t").replace("\\n", "\n"))


def format_rows(fmt: str, headers: dict[str, str], rows: list[dict]) -> str:
    """--format: 'json' (one object per line), 'table TEMPLATE', or a bare TEMPLATE."""
    if fmt == "json":
        return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows)
    if fmt.startswith("table"):
        tmpl = fmt[5:].strip() or "\t".join("{{." + k + "}}" for k in headers)
        names = [m.group(2) for m in FIELD.finditer(tmpl)]
        head = [headers.get(n, n.upper()) for n in names]
        body = [render(tmpl, r).split("\t") for r in rows]
        from krat.cli.humanize import table

        return table([head] + body) if "\t" in tmpl.replace("\\t", "\t") else "\n".join(
            [" ".join(head)] + ["\t".join(b) for b in body]) + "\n"
    return "".join(render(fmt, r) + "\n" for r in rows)


def go_value(value) -> str:
    """Go's fmt %v of maps and slices: map[k:v] and [a b]."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "<nil>" if value is None else str(value)


def print_inspect(refs: list[str], fetch, template: str | None) -> int:
    """`X inspect [-f TEMPLATE] REF...`: one document per ref that exists, an error line for
    each that does not (exit 1, as Docker), then a JSON list or one rendered line each."""
    import json
    import sys

    from krat.errors import KratError

    docs, code = [], 0
    for ref in refs:
        try:
            docs.append(fetch(ref))
        except KratError as err:
            sys.stderr.write(f"Error: {err.message}\n")
            code = 1
    if template:
        for doc in docs:
            print(render(template, doc))
    else:
        print(json.dumps(docs, indent=4))
    return code
