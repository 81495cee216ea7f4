"""Running the stages of a build as a graph: each once the stages it reads are done.

Independent stages run at the same time, up to `jobs` (threads: a stage mostly waits
on its RUN containers and on file copies). The first failure stops new stages from
starting; stages already running finish their current step and stop (`cancelled`).
With one stage ready at a time -- most Dockerfiles -- everything runs in the caller's
thread, exactly as a sequential build.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")


def ready(pending: list[int], deps: dict[int, set[int]], done: set[int]) -> list[int]:
    """The pending nodes whose dependencies are all done, in order (pure)."""
    return [i for i in pending if deps.get(i, set()) <= done]


def run_graph(order: list[int], deps: dict[int, set[int]], work: Callable[[int], T], jobs: int,
              cancelled: threading.Event) -> dict[int, T]:
    results: dict[int, T] = {}
    pending = list(order)
    running: "dict[Future, int]" = {}
    errors: list[BaseException] = []
    pool = None  # a ThreadPoolExecutor once two stages can run together
    try:
        while pending or running:
            startable = ready(pending, deps, set(results)) if not errors else []
            if len(startable) == 1 and not running:
                pending.remove(startable[0])
                results[startable[0]] = work(startable[0])  # nothing to overlap with: no thread
                continue
            from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait  # only when parallel

            for index in startable[: max(jobs - len(running), 0)]:
                pool = pool or ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="krat-stage")
                pending.remove(index)
                running[pool.submit(work, index)] = index
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                index = running.pop(future)
                try:
                    results[index] = future.result()
                except BaseException as err:  # noqa: BLE001 - re-raised below, once all have stopped
                    errors.append(err)
                    cancelled.set()
    except BaseException:
        cancelled.set()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    if errors:
        raise errors[0]
    return results
