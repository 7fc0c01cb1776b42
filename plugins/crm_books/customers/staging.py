"""Staging tables: keyset chunks of staged rows, frames in and out."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from crm_books.customers.columns import CONTACT_PERSON_COLUMNS, CUSTOMER_COLUMNS, REJECT_COLUMNS
from crm_books.warehouse.bulk import bulk_insert
from crm_books.warehouse.sql_files import run_sql

if TYPE_CHECKING:
    import pandas as pd

from crm_books.customers.plan import SyncRun

log = logging.getLogger(__name__)


TRANSFORM_CHUNK = 50_000


# The raw JSON stays in stg_crm_records only; rejects are given theirs back when they are filed.
STG_CUSTOMER_COLUMNS = ("run_id", "module", *CUSTOMER_COLUMNS)


STG_CONTACT_PERSON_COLUMNS = ("run_id", *CONTACT_PERSON_COLUMNS)


STG_REJECT_COLUMNS = ("run_id", "stage", *REJECT_COLUMNS)


def add_up(
    engine: Engine,
    run: SyncRun,
    step: str,
    work: Callable[..., dict[str, Any]],
    jobs: list[tuple[Any, ...]],
) -> tuple[Counter[str], list[str]]:
    """Run the chunk jobs (in worker processes on PostgreSQL), log progress, sum their counts and
    gather the table-level errors they report under "errors"."""
    from crm_books.customers.chunk_workers import effective_workers, map_chunks

    workers = effective_workers(engine, run.workers, len(jobs))
    log.info("%s: %d chunks, %d worker process(es)", step, len(jobs), workers)
    started = time.monotonic()
    total: Counter[str] = Counter()
    errors: list[str] = []
    for done, counts in enumerate(map_chunks(engine, work, jobs, workers=workers), start=1):
        errors += counts.pop("errors", [])
        total.update(counts)
        elapsed = time.monotonic() - started
        log.info(
            "%s: %d of %d chunks done, %s rows, %s rows/s",
            step,
            done,
            len(jobs),
            f"{total['rows']:,}",
            f"{total['rows'] / elapsed if elapsed else 0:,.0f}",
        )
    return total, errors


def chunk_starts(
    engine: Engine, query: str, run: SyncRun, module: str, chunk_size: int
) -> list[str]:
    """The crm_id after which each chunk of ``chunk_size`` ids starts ("" for the first), so the
    chunks are known up front and can be worked on at the same time."""
    with engine.connect() as conn:
        bounds = run_sql(
            conn, query, {"run_id": run.run_id, "module": module, "chunk_size": chunk_size}
        ).scalars()
        return ["", *(str(b) for b in bounds)]


def raw_chunk(engine: Engine, run_id: str, module: str, after: str, chunk_size: int) -> list[str]:
    with engine.connect() as conn:
        rows = run_sql(
            conn,
            "sync/select_latest_raw_records",
            {"run_id": run_id, "module": module, "after_crm_id": after, "chunk_size": chunk_size},
        )
        return [payload for _crm_id, payload in rows.tuples()]


def staged_chunk(
    engine: Engine, query: str, run_id: str, module: str, after: str, chunk_size: int
) -> pd.DataFrame:
    import pandas as pd

    with engine.connect() as conn:
        result = run_sql(
            conn,
            query,
            {"run_id": run_id, "module": module, "after_crm_id": after, "chunk_size": chunk_size},
        )
        frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    if "crm_modified_time" in frame:
        frame["crm_modified_time"] = pd.to_datetime(
            frame["crm_modified_time"], utc=True, format="ISO8601"
        )
    return frame.drop(columns=[c for c in ("run_id", "module") if c in frame])


def stage_frame(
    conn: Connection,
    table_name: str,
    frame: pd.DataFrame | None,
    columns: tuple[str, ...],
    run_id: str,
    **constants: str,
) -> int:
    """Bulk-insert a transformed frame into a staging table, with run_id and constant columns."""
    if frame is None or frame.empty:
        return 0
    data = frame.copy()
    data["run_id"] = run_id
    for name, value in constants.items():
        data[name] = value
    if "crm_modified_time" in data:
        # The same fixed text form as db_timestamp, vectorised.
        times = data["crm_modified_time"].dt.tz_convert("UTC")
        data["crm_modified_time"] = times.dt.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    data = data[list(columns)].astype(object).where(data[list(columns)].notna(), None)
    return bulk_insert(conn, table_name, columns, data.itertuples(index=False, name=None))


def counts_row(conn: Connection, name: str, params: dict[str, Any]) -> dict[str, int]:
    row = run_sql(conn, name, params).one()
    return {key: int(value or 0) for key, value in row._mapping.items()}
