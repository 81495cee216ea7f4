"""Golden Dockerfile parser cases: tests/testdata/dockerfile/<case>/{Dockerfile,expected.json}.

Run `python tests/unit/build/dockerfile_golden.py` to (re)write expected.json after checking the
parser's new output by hand; the comparison with Docker's own parser
(test_dockerfile_docker.py) guards the same cases independently.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CASES = Path(__file__).resolve().parents[2] / "testdata" / "dockerfile"


def render(case: Path) -> dict:
    from krat.build.dockerfile import parse
    from krat.errors import InvalidArgument

    text = (case / "Dockerfile").read_bytes().decode()
    try:
        instructions = parse(text, filename="Dockerfile")
    except InvalidArgument as err:
        return {"error": err.message}
    return {"instructions": [to_json(i) for i in instructions]}


def to_json(inst) -> dict:
    out = {"keyword": inst.keyword, "args": inst.args, "flags": inst.flags, "line": inst.line}
    if inst.end_line != inst.line:
        out["end_line"] = inst.end_line
    if inst.json:
        out["json"] = True
    if inst.heredocs:
        out["heredocs"] = [{"name": h.name, "content": h.content, "expand": h.expand, "chomp": h.chomp,
                            "fd": h.fd} for h in inst.heredocs]
    if inst.sub is not None:
        out["sub_flags"] = inst.sub.flags
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))
    for case in sorted(p for p in CASES.iterdir() if p.is_dir()):
        (case / "expected.json").write_text(json.dumps(render(case), indent=2) + "\n")
        print("wrote", case.name)
