"""Several mapped-task bodies at once in worker processes, as an executor runs a mapped task's
instances side by side (this is the benchmark's doing, not the product's: no task forks)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from typing import Any

from sqlalchemy import Engine

from crm_books.customers.plan import SyncRun
from crm_books.customers.staging import Chunk

# The warehouse engine of a worker process, made when the worker starts.
_engine: Engine | None = None


def _steps() -> dict[str, Callable[[Engine, SyncRun, Chunk], dict[str, Any]]]:
    """The chunk functions the DAG's mapped tasks call, by name (names pickle, closures not)."""
    from crm_books.customers.transform import transform_chunk
    from crm_books.customers.validate import validate_chunk

    return {"transform": transform_chunk, "validate": validate_chunk}


def map_chunks(
    uri: str, step: str, run: SyncRun, chunks: Sequence[Chunk], *, workers: int
) -> list[dict[str, Any]]:
    """``step`` over every chunk, ``workers`` chunks at a time, each in a worker process with its
    own warehouse connections; results in chunk order. The run goes over as its plan, the way
    the mapped tasks receive it.

    Workers are forked, so they start with pandas and Great Expectations imported, as a Celery
    or LocalExecutor worker that has run a task before.
    """
    with ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(chunks))),
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start,
        initargs=(uri,),
    ) as pool:
        return list(pool.map(_run_chunk, repeat(step), repeat(run.to_dict()), chunks))


def map_calls(uri: str, work: Callable[..., Any], jobs: Sequence[tuple[Any, ...]]) -> list[Any]:
    """``work(engine, *job)`` for every job, all at once in worker processes (the DAG's parallel
    tasks, e.g. its two extracts); results in job order. ``work`` must be a module-level function."""
    with ProcessPoolExecutor(
        max_workers=max(1, len(jobs)),
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start,
        initargs=(uri,),
    ) as pool:
        return list(pool.map(_call, repeat(work), jobs))


def _start(uri: str) -> None:
    """In a fresh worker: connections of its own (a connection must not cross a fork)."""
    from crm_books.warehouse.engine import create_warehouse_engine

    global _engine
    _engine = create_warehouse_engine(uri)


def _run_chunk(step: str, plan: dict[str, Any], chunk: Chunk) -> dict[str, Any]:
    assert _engine is not None
    return _steps()[step](_engine, SyncRun.from_dict(plan), chunk)


def _call(work: Callable[..., Any], job: tuple[Any, ...]) -> Any:
    assert _engine is not None
    return work(_engine, *job)
