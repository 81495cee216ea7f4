"""krat.oci.jsontext gives what the json package gives, without importing it for good input."""

from __future__ import annotations

import json
import math

import pytest

from krat.oci import jsontext

DOCUMENTS = [
    {"ociVersion": "1.0.2", "process": {"args": ["sh", "-c", "echo \"hi\"\n"], "env": ["A=é", "B=\u2603"],
                                        "user": {"uid": 0, "gid": 0}, "terminal": False, "oomScoreAdj": None}},
    [1, -2, 3.25, 1e100, -0.0, True, False, None, "", {}, []],
    "a string", 42, {"nested": {"deeper": [{"k": "v"}]}},
]


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_same_text_and_values_as_json(doc):
    assert jsontext.dumps(doc) == json.dumps(doc)
    text = json.dumps(doc)
    assert jsontext.loads(text) == json.loads(text)
    assert jsontext.loads(text.encode()) == json.loads(text)
    assert jsontext.loads(f" \n{text}\n") == json.loads(text)


def test_constants():
    value = jsontext.loads('{"a": NaN, "b": Infinity, "c": -Infinity}')
    assert math.isnan(value["a"]) and value["b"] == math.inf and value["c"] == -math.inf


@pytest.mark.parametrize("bad", ["", "{", "{}x", "[1,]", '{"a" 1}', "nul"])
def test_bad_text_raises_json_errors(bad):
    with pytest.raises(json.JSONDecodeError):
        jsontext.loads(bad)


def test_unserialisable_value():
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsontext.dumps({"x": object()})
