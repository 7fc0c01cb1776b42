"""The quality gate over staged rows, one chunk at a time: rejects filed, a failing table stops the run.

Where the rows are: a SQL screen (include/sql/quality/screen_*.sql) picks out, in the warehouse,
the rows of a chunk that could fail a row-level expectation or share their CRM id with another
row, and counts the chunk. Great Expectations then runs the whole suite on those rows only, and
decides every reject, reason and table-level verdict; a row the screen leaves out passes every
row-level expectation, so the outcome is the one GX gives on the whole chunk.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

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
from crm_books.warehouse.sql_files import dialect, run_sql

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

# What the gate reads of a chunk, by label: the query of all its staged rows (when the screen
# cannot stand in for them), the count of its rows and the screen of the rows GX must see.
GATE_QUERIES = {
    "customers": "sync/select_staged_customers",
    "contact persons": "sync/select_staged_contact_persons",
}
COUNT_QUERIES = {
    "customers": "quality/count_staged_customers",
    "contact persons": "quality/count_staged_contact_persons",
}
SCREEN_QUERIES = {
    "customers": "quality/screen_customers",
    "contact persons": "quality/screen_contact_persons",
}
# Columns of the staged rows that are not part of the checked frame.
_NOT_CHECKED = ("run_id", "module", "gate_id")


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
        rows, frame = checked_rows(engine, label, run, chunk)
        if frame is None:
            continue
        if label == "contact persons":
            result = quality.validate_contact_persons(
                frame, max_reject_fraction=run.max_reject_fraction, rows_checked=rows
            )
        else:
            result = quality.validate_customers(
                frame, module=module, max_reject_fraction=run.max_reject_fraction, rows_checked=rows
            )
        rejects.append(result.rejects)
        checked.append((label, rows, result.expectations))
        counts["rows"] += rows
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


def checked_rows(
    engine: Engine, label: str, run: SyncRun, chunk: Chunk
) -> tuple[int, pd.DataFrame | None]:
    """How many staged rows of one kind (``label``) the chunk holds, and the frame GX checks:
    the rows the SQL screen picked out, or every row when the chunk holds more than MAX_ROWS
    (the row-count expectation must then see them all). None when the chunk has no such rows."""
    from crm_books.customers import quality
    from crm_books.customers.quality_checks import screen_params

    params = chunk_params(run, chunk)
    with engine.connect() as conn:
        rows = int(run_sql(conn, COUNT_QUERIES[label], params).scalar_one())
        if 0 < rows <= quality.MAX_ROWS:
            _add_screen_functions(conn)
            screen = {**params, **screen_params(dialect(conn))}
            return rows, _frame(run_sql(conn, SCREEN_QUERIES[label], screen))
    # Outside the connection above: a second one would wait for its lock on SQLite.
    return rows, staged_chunk(engine, GATE_QUERIES[label], run, chunk) if rows else None


def _frame(result: Any) -> pd.DataFrame:
    """Screened rows as the gate checks them (as staged_chunk reads a whole chunk)."""
    import pandas as pd

    # Plain DB-API tuples: pandas probes SQLAlchemy Rows for attributes, one by one.
    frame = pd.DataFrame(result.cursor.fetchall(), columns=list(result.keys()))
    frame["crm_modified_time"] = pd.to_datetime(
        frame["crm_modified_time"], utc=True, format="ISO8601"
    )
    return frame.drop(columns=[c for c in _NOT_CHECKED if c in frame])


def _add_screen_functions(conn: Connection) -> None:
    """On SQLite, the screens' two PostgreSQL functions: ``regexp_like(value, pattern)`` runs
    Python's ``re.search``, the checks' own patterns with their own meaning (SQLite has no
    regular expressions of its own), and ``char_length(value)`` counts characters as Python does
    (SQLite's length() stops at a NUL)."""
    if dialect(conn) == "sqlite":
        raw: Any = conn.connection.driver_connection
        raw.create_function("regexp_like", 2, _regexp_like, deterministic=True)
        raw.create_function("char_length", 1, _char_length, deterministic=True)


def _regexp_like(value: str | None, pattern: str) -> bool | None:
    return None if value is None else _compiled(pattern).search(value) is not None


def _char_length(value: str | bytes | None) -> int | None:
    return None if value is None else len(value)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


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
