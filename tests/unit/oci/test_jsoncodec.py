"""krat.oci.jsoncodec reads and writes exactly what the json module does, without importing it."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from krat.oci import jsoncodec

DOCUMENTS = [
    {"ociVersion": "1.0.2", "process": {"args": ["sh", "-c", "echo \"hi\"\n"], "env": ["A=é", "B=\u2603"]},
     "n": [0, -1, 2 ** 70, 1.5, 1e-7, True, False, None], "empty": {}, "list": []},
    "text", 3, None, [], {"b": 1, "a": {"d": 2, "c": 3}},
]


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_dumps_and_loads_match_the_json_module(doc):
    assert jsoncodec.dumps(doc) == json.dumps(doc)
    assert jsoncodec.dumps(doc, sort_keys=True) == json.dumps(doc, sort_keys=True)
    text = json.dumps(doc, indent=2)
    assert jsoncodec.loads(text) == json.loads(text)
    assert jsoncodec.loads(("\n " + text + " \n").encode()) == doc


def test_tuples_become_lists_and_unknown_types_are_refused_as_json_does():
    assert jsoncodec.dumps({"t": (1, "a")}) == '{"t": [1, "a"]}'
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        jsoncodec.dumps({"s": {1}})


@pytest.mark.parametrize("text", ["", "{", '{"a": }', "[1, 2] x", "nul", "\ufeff{}", '{"a": 1,}', b"\xff"])
def test_bad_input_raises_what_json_raises(text):
    with pytest.raises(ValueError) as theirs:
        json.loads(text)
    with pytest.raises(ValueError) as ours:
        jsoncodec.loads(text)
    assert str(ours.value) == str(theirs.value) and type(ours.value) is type(theirs.value)


def test_nan_and_infinity_round_trip_as_json_allows():
    assert jsoncodec.dumps([float("inf"), float("-inf")]) == "[Infinity, -Infinity]"
    assert jsoncodec.loads("[Infinity, -Infinity]") == [float("inf"), float("-inf")]


def test_importing_it_loads_neither_json_nor_re():
    code = "import sys, krat.oci.jsoncodec; print(sorted({'json', 're', 'enum'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": ":".join(p for p in sys.path if p)}).stdout
    assert out.strip() == "[]"


# From krat exec's former copy of this module (krat.oci.jsontext): its cases, on the survivor.

EXEC_DOCUMENTS = [
    {"ociVersion": "1.0.2", "process": {"args": ["sh", "-c", "echo \"hi\"\n"], "env": ["A=é", "B=\u2603"],
                                        "user": {"uid": 0, "gid": 0}, "terminal": False, "oomScoreAdj": None}},
    [1, -2, 3.25, 1e100, -0.0, True, False, None, "", {}, []],
    "a string", 42, {"nested": {"deeper": [{"k": "v"}]}},
]


@pytest.mark.parametrize("doc", EXEC_DOCUMENTS)
def test_same_text_and_values_as_json(doc):
    assert jsoncodec.dumps(doc) == json.dumps(doc)
    text = json.dumps(doc)
    assert jsoncodec.loads(text) == json.loads(text)
    assert jsoncodec.loads(text.encode()) == json.loads(text)
    assert jsoncodec.loads(f" \n{text}\n") == json.loads(text)


def test_constants():
    value = jsoncodec.loads('{"a": NaN, "b": Infinity, "c": -Infinity}')
    assert math.isnan(value["a"]) and value["b"] == math.inf and value["c"] == -math.inf


@pytest.mark.parametrize("bad", ["", "{", "{}x", "[1,]", '{"a" 1}', "nul"])
def test_bad_text_raises_json_errors(bad):
    with pytest.raises(json.JSONDecodeError):
        jsoncodec.loads(bad)


def test_unserialisable_value():
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsoncodec.dumps({"x": object()})
