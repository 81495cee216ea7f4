"""Cache keys and miss explanations; the cache table round trip."""

from __future__ import annotations

from pathlib import Path

from krat.build.cache import StepInputs, explain
from krat.db import open_database
from krat.db import build_cache


def test_key_depends_on_every_input_and_nothing_else() -> None:
    base = StepInputs("p", "COPY app.py /app/", {"A": "1"}, {"app.py": "sha256:1"})
    assert base.key == StepInputs("p", "COPY app.py /app/", {"A": "1"}, {"app.py": "sha256:1"}).key
    variants = [
        StepInputs("q", base.instruction, base.args, base.sources),
        StepInputs("p", "COPY app.py /srv/", base.args, base.sources),
        StepInputs("p", base.instruction, {"A": "2"}, base.sources),
        StepInputs("p", base.instruction, base.args, {"app.py": "sha256:2"}),
    ]
    assert len({v.key for v in variants} | {base.key}) == 5


def test_explain_names_the_changed_file() -> None:
    old = StepInputs("p", "COPY . /app", {}, {"a.py": "1", "b.py": "2", "c.py": "3"})
    new = StepInputs("p", "COPY . /app", {}, {"a.py": "1", "b.py": "9", "d.py": "4"})
    assert explain(new, [old], parent_rebuilt=False) == "file b.py changed; file d.py added; file c.py removed"


def test_explain_arg_and_instruction_and_parent() -> None:
    old = StepInputs("p", "RUN echo $V", {"V": "1"})
    assert explain(StepInputs("p", "RUN echo $V", {"V": "2"}), [old], False) == "build arg V changed ('1' -> '2')"
    assert explain(StepInputs("p", "RUN echo hi", {}), [old], False) == "instruction changed (was: RUN echo $V)"
    assert explain(StepInputs("p", "RUN x"), [], True) == "an earlier step re-ran"
    assert "base image" in explain(StepInputs("p", "RUN x"), [], False, first=True)


def test_table_round_trip(tmp_path: Path) -> None:
    db = open_database(tmp_path / "krat.db")
    rec = build_cache.CacheRecord("k1", "p", "RUN x", {"A": "1"}, {"f": "d"}, {"diff_id": "sha256:x"})
    build_cache.put(db, rec)
    got = build_cache.get(db, "k1")
    assert (got.instruction, got.args, got.sources, got.result) == ("RUN x", {"A": "1"}, {"f": "d"}, {"diff_id": "sha256:x"})
    assert [r.key for r in build_cache.children(db, "p")] == ["k1"]
    build_cache.delete(db, ["k1"])
    assert build_cache.get(db, "k1") is None
