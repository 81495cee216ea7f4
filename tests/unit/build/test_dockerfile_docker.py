"""krat's Dockerfile parser against Docker's own (BuildKit's Go parser via PyPI `dockerfile`).

Every Dockerfile in tests/testdata/dockerfile-corpus and every valid golden case must
parse to the same keyword, args, flags, lines, form and heredocs; any difference fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from krat.build.dockerfile import parse

dockerfile = pytest.importorskip("dockerfile", reason="the `dockerfile` test extra is not installed")

DATA = Path(__file__).resolve().parents[2] / "testdata"
FILES = sorted((DATA / "dockerfile-corpus").glob("*.Dockerfile")) + sorted(
    p / "Dockerfile" for p in (DATA / "dockerfile").iterdir() if p.is_dir() and not p.name.startswith("bad-"))


def docker_view(cmd) -> dict:
    args = list(cmd.value)
    if cmd.cmd.upper() == "ONBUILD" and cmd.sub_cmd:
        args = [cmd.sub_cmd.upper(), *args]
    heredocs = [(h.name, h.content) for h in cmd.heredocs]
    return {"keyword": cmd.cmd.upper(), "args": args, "flags": list(cmd.flags), "line": cmd.start_line,
            "end_line": cmd.end_line, "json": cmd.json, "heredocs": heredocs}


def krat_view(inst) -> dict:
    # The wrapper reports neither ONBUILD's inner flags nor heredocs under ONBUILD.
    onbuild = inst.keyword == "ONBUILD"
    heredocs = [] if onbuild else [(h.name, h.content) for h in inst.heredocs]
    return {"keyword": inst.keyword, "args": inst.args, "flags": inst.flags, "line": inst.line,
            "end_line": inst.end_line, "json": inst.json, "heredocs": heredocs}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.parent.name if p.name == "Dockerfile" else p.stem)
def test_same_as_docker(path: Path) -> None:
    text = path.read_bytes().decode()
    theirs = [docker_view(c) for c in dockerfile.parse_string(text)]
    ours = [krat_view(i) for i in parse(text)]
    assert len(ours) == len(theirs)
    for mine, docker in zip(ours, theirs):
        assert mine == docker


@pytest.mark.parametrize("text", [
    "FROM a\nCMD [1, 2]\n",
    "FROM a\nENV A=1 B\n",
    "",
    "# only a comment\n",
    "FROM a\nRUN <<EOF\nnever closed\n",
])
def test_both_reject(text: str) -> None:
    with pytest.raises(dockerfile.GoParseError):
        dockerfile.parse_string(text)
    with pytest.raises(Exception) as err:
        parse(text)
    assert err.value.message.startswith("Dockerfile:")


def test_corpus_is_not_empty() -> None:
    assert len(FILES) >= 20
