"""Issue 16's bound for the work after the extract: a raw COPY of N staged-customer rows plus one
set-based ``INSERT ... ON CONFLICT DO UPDATE``, on the warehouse's own PostgreSQL cluster.

The rows are made from what the full run loaded (books.customers, repeated with a suffix on
the key until there are N), read out with ``COPY ... TO STDOUT`` before the clock starts, then
timed: ``COPY ... FROM STDIN`` into a table shaped as books.stg_customers (UNLOGGED when the
product's is) and one upsert of all of them into a copy of books.customers. The scratch schema
``bench_bound`` is dropped afterwards. The SQL is in devtools/bench/sql/.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine

from devtools.bench.measure import Timer
from devtools.bench.report import (
    BOUND_COPY,
    BOUND_TOTAL,
    BOUND_UPSERT,
    SECTION_BOUND,
    PhaseResult,
)
from devtools.bench.stack import bench_sql

log = logging.getLogger("devtools.bench")


def _execute(cursor: Any, name: str, params: dict[str, Any] | None = None) -> None:
    """Each statement of a file in turn (they hold no semicolons inside literals)."""
    for statement in bench_sql(name).split(";"):
        body = "\n".join(
            line for line in statement.splitlines() if not line.lstrip().startswith("--")
        )
        if body.strip():
            cursor.execute(body, params)


def _records_out(cursor: Any, records: int) -> list[bytes]:
    """N rows in COPY text format, made from the loaded customers (not timed)."""
    cursor.execute("SELECT count(*) FROM books.customers")
    customers = int(cursor.fetchone()[0])
    repeats = max(0, -(-records // max(customers, 1)) - 1)
    params = {"records": records, "repeats": repeats}
    with cursor.copy(bench_sql("copy_bound_records_out"), params) as copy:
        return [bytes(block) for block in copy]


def run_copy_bound(timer: Timer, engine: Engine, records: int) -> PhaseResult | None:
    """COPY ``records`` staged rows, then one upsert; the rows of section SECTION_BOUND, the last
    being their sum (None on SQLite: not measured)."""
    if engine.dialect.name != "postgresql" or records <= 0:
        return None
    raw = engine.raw_connection()
    try:
        pg: Any = raw.driver_connection
        cursor = pg.cursor()
        _execute(cursor, "create_bound_tables")
        cursor.execute(bench_sql("select_table_persistence"))
        if (cursor.fetchone() or ["p"])[0] == "u":
            _execute(cursor, "set_bound_staging_unlogged")
        blocks = _records_out(cursor, records)
        pg.commit()
        with timer.phase(SECTION_BOUND, BOUND_COPY, records):
            with cursor.copy(bench_sql("copy_bound_records_in")) as copy:
                for block in blocks:
                    copy.write(block)
            pg.commit()
        del blocks
        with timer.phase(SECTION_BOUND, BOUND_UPSERT) as t:
            _execute(cursor, "upsert_bound_customers", {"run_id": "bench-bound"})
            t.records = int(cursor.rowcount)
            pg.commit()
        _execute(cursor, "drop_bound_tables")
        pg.commit()
    finally:
        raw.close()
    rows = timer.report.section(SECTION_BOUND)
    total = PhaseResult(
        SECTION_BOUND,
        BOUND_TOTAL,
        records,
        sum(r.seconds for r in rows),
        max(r.peak_rss_mb for r in rows),
        cpu_seconds=sum(r.cpu_seconds for r in rows),
    )
    timer.report.rows.append(total)
    log.info("COPY + upsert bound: %d records in %.2f s", records, total.seconds)
    return total
