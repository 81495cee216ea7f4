"""The stage graph runner: dependencies first, independent stages together, first error wins."""

from __future__ import annotations

import threading

import pytest

from krat.build.schedule import ready, run_graph


def test_ready_respects_dependencies() -> None:
    deps = {0: set(), 1: set(), 2: {0, 1}}
    assert ready([0, 1, 2], deps, set()) == [0, 1]
    assert ready([2], deps, {0}) == []
    assert ready([2], deps, {0, 1}) == [2]


def test_chain_runs_in_the_callers_thread_in_order() -> None:
    order: list[int] = []
    main = threading.get_ident()

    def work(i: int) -> int:
        assert threading.get_ident() == main
        order.append(i)
        return i * 10

    assert run_graph([0, 1, 2], {1: {0}, 2: {1}}, work, 4, threading.Event()) == {0: 0, 1: 10, 2: 20}
    assert order == [0, 1, 2]


def test_first_error_stops_new_work() -> None:
    started: list[int] = []
    cancelled = threading.Event()

    def work(i: int) -> int:
        started.append(i)
        if i == 0:
            raise ValueError("stage 0 broke")
        return i

    with pytest.raises(ValueError, match="stage 0 broke"):
        run_graph([0, 1], {1: {0}}, work, 2, cancelled)
    assert started == [0] and cancelled.is_set()
