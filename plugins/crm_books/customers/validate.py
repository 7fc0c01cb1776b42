"""The quality gate over staged rows, one chunk at a time: rejects filed, a failing table stops the run."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine

from crm_books import config
from crm_books.customers.plan import SyncRun
from crm_books.customers.quality_report import record_outcomes
from crm_books.customers.run_log import mark_run_failed
from crm_books.customers.staging import (
    TRANSFORM_CHUNK,
    Chunk,
    chunk_params,
    list_chunks,
    log_chunk,
    stage_rejects,
    staged_chunk,
    sum_counts,
)
from crm_books.warehouse.sql_files import run_sql

log = logging.getLogger(__name__)

# What the gate reads of a chunk, by label: the query of its staged rows.
GATE_QUERIES = {
    "customers": "sync/select_staged_customers",
    "contact persons": "sync/select_staged_contact_persons",
}


def validate_chunk(engine: Engine, run: SyncRun, chunk: Chunk) -> dict[str, Any]:
    """Run the gate on what one transform chunk staged and file its rejects (one transaction,
    replacing an earlier attempt's). Table-level failures are returned under "errors", not
    raised, so every chunk is checked and ``gate`` can name every failure at once.

    The ``max_reject_fraction`` threshold applies per chunk (as the gate computes it per frame)."""
    from crm_books.customers import quality

    started = time.monotonic()
    module = chunk["module"]
    labels = ["customers", *(["contact persons"] if module == config.CONTACTS else [])]
    counts: dict[str, Any] = {"rows": 0, "rejected": 0, "errors": []}
    rejects = []
    checked = []
    for label in labels:
        frame = staged_chunk(engine, GATE_QUERIES[label], run, chunk)
        if frame.empty:
            continue
        if label == "contact persons":
            result = quality.validate_contact_persons(
                frame, max_reject_fraction=run.max_reject_fraction
            )
        else:
            result = quality.validate_customers(
                frame, module=module, max_reject_fraction=run.max_reject_fraction
            )
        rejects.append(result.rejects)
        checked.append((label, len(frame), result.expectations))
        counts["rows"] += len(frame)
        counts["rejected"] += len(result.rejects)
        counts["errors"] += [f"{module} {label}: {e}" for e in result.table_errors]
    with engine.begin() as conn:
        params = chunk_params(run, chunk)
        run_sql(conn, "sync/delete_quality_chunk_rejects", params)
        stage_rejects(conn, rejects, run.run_id, "quality")
        if counts["rejected"]:
            run_sql(conn, "sync/fill_reject_payloads", params)
        record_outcomes(conn, params, checked)
    log_chunk("quality gate", chunk, counts["rows"], started)
    return counts


def gate(engine: Engine, run: SyncRun, results: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The gate's verdict over every chunk: a table-level failure in any of them marks the run
    failed and raises QualityGateError, so nothing is loaded."""
    counts, errors = sum_counts(results)
    log.info("quality gate: %d rows checked, %d rejected", counts["rows"], counts["rejected"])
    if errors:
        message = "quality gate failed, nothing was loaded: " + " | ".join(errors)
        mark_run_failed(engine, run.run_id, message)
        from crm_books.customers.quality import QualityGateError

        raise QualityGateError(message)
    return {"checked": counts["rows"], "rejected": counts["rejected"]}


def validate_run(
    engine: Engine, run: SyncRun, *, chunk_size: int = TRANSFORM_CHUNK
) -> dict[str, int]:
    """Every chunk of the run, one after another in this process (tests and tools; the DAG maps
    ``validate_chunk`` over the chunks instead)."""
    chunks = list_chunks(engine, run, chunk_size)
    return gate(engine, run, [validate_chunk(engine, run, chunk) for chunk in chunks])
