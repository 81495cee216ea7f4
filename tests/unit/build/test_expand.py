"""Dockerfile variable substitution and quote removal, as BuildKit's shell lexer does it."""

from __future__ import annotations

import pytest

from krat.build.expand import ExpansionError, Lexer, expand_word, expand_words

ENV = {"A": "apple", "E": "", "P": "/usr/local/bin/tool.tar.gz", "SP": "a b"}


@pytest.mark.parametrize("word, want", [
    ("$A", "apple"), ("${A}", "apple"), ("x${A}y", "xappley"), ("$Ax", ""), ("$NOPE", ""),
    ("${NOPE:-def}", "def"), ("${E:-def}", "def"), ("${E-def}", ""), ("${NOPE-def}", "def"),
    ("${A:+alt}", "alt"), ("${E:+alt}", ""), ("${E+alt}", "alt"), ("${NOPE+alt}", ""),
    ("${NOPE:-${A}}", "apple"), ("\\$A", "$A"), ("'$A'", "$A"), ('"$A"', "apple"),
    ('"\\$A"', "$A"), ('"a\\b"', "a\\b"), ("a\\ b", "a b"), ("$", "$"), ("$1", ""),
    ("${P#*/}", "usr/local/bin/tool.tar.gz"), ("${P##*/}", "tool.tar.gz"),
    ("${P%.*}", "/usr/local/bin/tool.tar"), ("${P%%.*}", "/usr/local/bin/tool"),
    ("${P/o/0}", "/usr/l0cal/bin/tool.tar.gz"), ("${P//o/0}", "/usr/l0cal/bin/t00l.tar.gz"),
])
def test_word(word: str, want: str) -> None:
    assert expand_word(word, ENV) == want


def test_words_split_after_substitution_but_not_inside_quotes() -> None:
    assert expand_words('$SP "$SP" c', ENV) == ["a", "b", "a b", "c"]


def test_backtick_escape() -> None:
    assert expand_word("`$A C:\\x", ENV, escape="`") == "$A C:\\x"


def test_matches_are_recorded() -> None:
    result = Lexer().process("${A} $NOPE ${E:-x}", ENV)
    assert result.matched == {"A", "E"}
    assert result.unmatched == {"NOPE"}


@pytest.mark.parametrize("word, message", [
    ("${A", "missing '}'"), ("${}", "bad substitution"), ("'abc", "single-quote"),
    ('"abc', "double-quote"), ("${NOPE?must be set}", "NOPE: must be set"), ("${A:#x}", "unsupported modifier"),
])
def test_errors(word: str, message: str) -> None:
    with pytest.raises(ExpansionError, match=message):
        expand_word(word, ENV)
