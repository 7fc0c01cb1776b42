"""Run a task's independent chunks in worker processes, so pandas and GX use every core.

The transform and the quality gate work chunk by chunk (keyset ranges of CRM ids), each chunk in its
own transaction, and are CPU-bound Python: threads would take turns on the GIL. Workers are forked
from the task process, so pandas and Great Expectations, already imported, are not imported again.
Each worker opens its own warehouse connections (a connection must not cross a fork) and returns
counts; it does not log, so the task log stays one ordered stream written by the task process.

Only PostgreSQL warehouses get workers: SQLite takes one writer at a time, so its chunks run in the
task process one after another, exactly as with ``workers=1``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine

from crm_books.warehouse.sql_files import dialect

WORKERS_ENV = "CRM_BOOKS_SYNC_WORKERS"
MAX_DEFAULT_WORKERS = 4

R = TypeVar("R")

# The engine of the task process, read by forked workers (set just before the pool forks them).
_engine: Engine | None = None


def default_workers() -> int:
    """Workers per task: ``CRM_BOOKS_SYNC_WORKERS`` if set, else the usable cores (at most 4)."""
    configured = os.environ.get(WORKERS_ENV, "").strip()
    if configured:
        try:
            workers = int(configured)
        except ValueError:
            raise ValueError(
                f"{WORKERS_ENV} must be a whole number of worker processes, not {configured!r}"
            ) from None
        if workers < 1:
            raise ValueError(f"{WORKERS_ENV} must be at least 1, not {workers}")
        return workers
    return max(1, min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS))


def effective_workers(engine: Engine, workers: int | None, chunks: int) -> int:
    """How many processes `chunks` chunks get: 1 on SQLite, never more than there are chunks."""
    wanted = default_workers() if workers is None else workers
    if dialect(engine) != "postgresql" or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(wanted, chunks))


def map_chunks(
    engine: Engine,
    work: Callable[..., R],
    jobs: Sequence[tuple[Any, ...]],
    *,
    workers: int | None = None,
) -> Iterator[R]:
    """``work(engine, *job)`` for every job, results in job order.

    :param work: a module-level function (workers receive it by reference).
    :param jobs: the arguments of each call after the engine; they must pickle.
    :param workers: processes to use; None means ``default_workers()``.
    """
    count = effective_workers(engine, workers, len(jobs))
    if count <= 1:
        for job in jobs:
            yield work(engine, *job)
        return
    global _engine
    _engine = engine
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=count, mp_context=context, initializer=_start) as pool:
        futures = [pool.submit(_call, work, job) for job in jobs]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _start() -> None:
    """In a fresh worker: drop the inherited connection pool without closing the parent's
    connections (SQLAlchemy's recipe for engines used across a fork)."""
    assert _engine is not None
    _engine.dispose(close=False)


def _call(work: Callable[..., R], job: tuple[Any, ...]) -> R:
    assert _engine is not None
    return work(_engine, *job)
