"""The Dockerfile parser: golden cases, errors with file:line, and details users rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from krat.build.dockerfile import DockerfileError, parse, parse_file
from dockerfile_golden import CASES, render

CASE_DIRS = sorted(p for p in CASES.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_golden(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text())
    assert render(case) == expected


def test_error_names_file_and_line() -> None:
    with pytest.raises(DockerfileError) as err:
        parse("FROM busybox\n\nFOO bar\n", filename="app/Dockerfile.dev")
    assert err.value.message == "app/Dockerfile.dev:3: unknown instruction: FOO"


def test_escape_directive_changes_continuation_and_is_reported() -> None:
    parsed = parse_file("# escape=`\nFROM a\nRUN echo \\\nRUN b `\n  c\n")
    assert parsed.escape == "`"
    assert [i.args for i in parsed.instructions] == [["a"], ["echo \\"], ["b   c"]]


def test_directive_after_instruction_is_a_comment() -> None:
    parsed = parse_file("FROM a\n# escape=`\nRUN x \\\n y\n")
    assert parsed.escape == "\\"
    assert parsed.instructions[1].args == ["x  y"]


def test_heredoc_text_chomps_tabs() -> None:
    inst = parse("FROM a\nRUN <<-EOF\n\t\techo hi\n\tEOF\n")[1]
    assert inst.heredocs[0].text == "echo hi\n"
    assert inst.end_line == 4


def test_onbuild_keeps_inner_instruction() -> None:
    inst = parse("FROM a\nonbuild copy --from=b x y\n")[1]
    assert inst.keyword == "ONBUILD"
    assert inst.args == ["COPY", "x", "y"]
    assert inst.sub.keyword == "COPY" and inst.sub.flags == ["--from=b"]


@pytest.mark.parametrize("trigger", ["ONBUILD", "FROM", "MAINTAINER"])
def test_onbuild_forbidden_triggers(trigger: str) -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: .*isn't allowed as an ONBUILD trigger"):
        parse(f"FROM a\nONBUILD {trigger} x\n")


def test_source_keeps_original_lines() -> None:
    inst = parse("FROM a\nRUN a \\\n  b\n")[1]
    assert inst.source == "RUN a \\\n  b\n"
    assert inst.original == "RUN a   b"
