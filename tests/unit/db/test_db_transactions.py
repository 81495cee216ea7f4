"""Transactions and the unique-constraint guard of krat.db.connection (a file in tmp_path)."""

from __future__ import annotations

import pytest

from krat.db import open_database
from krat.db.connection import unique
from krat.errors import AlreadyExists, Conflict


@pytest.fixture
def db(tmp_path):
    db = open_database(tmp_path / "krat.db")
    db.conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER CHECK (v >= 0))")
    yield db
    db.close()


def keys(db) -> list[str]:
    return [r[0] for r in db.query("SELECT k FROM t ORDER BY k")]


def test_a_transaction_commits_and_a_nested_one_joins_it(db):
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES ('a', 1)")
        with db.transaction() as inner:
            assert inner is conn
            inner.execute("INSERT INTO t VALUES ('b', 2)")
        assert db.conn.in_transaction  # the inner block did not commit the outer one
    assert not db.conn.in_transaction
    assert keys(db) == ["a", "b"]


def test_an_exception_rolls_back_everything_the_outer_transaction_did(db):
    with pytest.raises(RuntimeError):
        with db.transaction() as conn:
            conn.execute("INSERT INTO t VALUES ('a', 1)")
            with db.transaction():
                conn.execute("INSERT INTO t VALUES ('b', 2)")
                raise RuntimeError("boom")
    assert keys(db) == [] and not db.conn.in_transaction
    with db.transaction() as conn:  # usable again afterwards
        conn.execute("INSERT INTO t VALUES ('c', 3)")
    assert keys(db) == ["c"]


def test_unique_names_the_duplicate_and_other_constraints_conflict(db):
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES ('a', 1)")
    with pytest.raises(AlreadyExists, match="thing a"), db.transaction() as conn, unique("thing a"):
        conn.execute("INSERT INTO t VALUES ('a', 2)")
    with pytest.raises(Conflict, match="thing b: CHECK"), db.transaction() as conn, unique("thing b"):
        conn.execute("INSERT INTO t VALUES ('b', -1)")
    with unique("nothing wrong"):
        pass
    assert keys(db) == ["a"] and not db.conn.in_transaction
