"""Staging tables: the run's keyset chunks, their rows read as frames and staged back."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Generator, Iterable
from itertools import repeat
from typing import TYPE_CHECKING, Any, TypedDict

from sqlalchemy import Connection, Engine

from crm_books.customers.columns import CONTACT_PERSON_COLUMNS, CUSTOMER_COLUMNS, REJECT_COLUMNS
from crm_books.customers.plan import SyncRun
from crm_books.warehouse.bulk import bulk_insert
from crm_books.warehouse.sql_files import run_sql

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

log = logging.getLogger(__name__)

# CRM records per chunk: one mapped task's work, small enough for one worker's memory and large
# enough that a task's start-up (imports, connections) stays a small share of it.
TRANSFORM_CHUNK = 50_000
# CRM records decoded and mapped at a time within a chunk: the JSON texts and decoded fields of
# one piece are alive at once, not of the whole chunk.
RAW_PIECE = 5_000

# The raw JSON stays in stg_crm_records only; rejects are given theirs back when they are filed.
STG_CUSTOMER_COLUMNS = ("run_id", "module", *CUSTOMER_COLUMNS)
STG_CONTACT_PERSON_COLUMNS = ("run_id", *CONTACT_PERSON_COLUMNS)
STG_REJECT_COLUMNS = ("run_id", "stage", *REJECT_COLUMNS)


class Chunk(TypedDict):
    """One keyset chunk of a module's CRM ids, ``after`` < id <= ``until`` (None: no upper
    bound): a mapped task's unit of work, the same range for the transform and the gate."""

    module: str
    after: str
    until: str | None
    label: str


def list_chunks(engine: Engine, run: SyncRun, chunk_size: int = TRANSFORM_CHUNK) -> list[Chunk]:
    """Every chunk of the run's extracted records, per module, known up front so the chunks can
    be worked on side by side; a module with no records still has one (empty) chunk, so the
    mapped tasks always have something to expand over."""
    chunks: list[Chunk] = []
    for module in run.modules:
        with engine.connect() as conn:
            bounds = run_sql(
                conn,
                "sync/select_raw_chunk_starts",
                {"run_id": run.run_id, "module": module, "chunk_size": chunk_size},
            ).scalars()
            starts = ["", *(str(b) for b in bounds)]
        ends: list[str | None] = [*starts[1:], None]
        chunks += [
            Chunk(module=module, after=a, until=u, label=f"{module} {n} of {len(starts)}")
            for n, (a, u) in enumerate(zip(starts, ends, strict=True), start=1)
        ]
    log.info(
        "%d chunks of up to %s records: %s", len(chunks), f"{chunk_size:,}", _per_module(chunks)
    )
    return chunks


def _per_module(chunks: list[Chunk]) -> str:
    counts = Counter(c["module"] for c in chunks)
    return ", ".join(f"{m} {n}" for m, n in counts.items())


def chunk_params(run: SyncRun, chunk: Chunk) -> dict[str, Any]:
    """The bind parameters of a chunk's SQL files."""
    return {
        "run_id": run.run_id,
        "module": chunk["module"],
        "after_crm_id": chunk["after"],
        "until_crm_id": chunk["until"],
        "first_chunk": chunk["after"] == "",
    }


def raw_pieces(
    engine: Engine, run: SyncRun, chunk: Chunk, size: int | None = None
) -> Generator[list[str], None, None]:
    """The newest extracted payload of each record in the chunk, ``size`` (RAW_PIECE) at a
    time: PostgreSQL sends them through a server-side cursor, so neither the driver nor this
    process holds the whole chunk's JSON."""
    size = size or RAW_PIECE
    with engine.connect() as conn:
        streamed = conn.execution_options(stream_results=True, yield_per=size)
        rows = run_sql(streamed, "sync/select_latest_raw_records", chunk_params(run, chunk))
        # Rows, not the DB-API cursor: a streamed result holds its first rows in its own buffer.
        for batch in rows.partitions(size):
            yield [row[1] for row in batch]


def staged_chunk(engine: Engine, query: str, run: SyncRun, chunk: Chunk) -> pd.DataFrame:
    """The chunk's staged rows of one staging table (``query``), as the quality gate reads them."""
    import pandas as pd

    with engine.connect() as conn:
        result = run_sql(conn, query, chunk_params(run, chunk))
        # Plain DB-API tuples: given SQLAlchemy Rows, pandas probes each one for attributes (an
        # AttributeError raised and caught per row), some 0.4 s of CPU per 50,000 rows.
        frame = pd.DataFrame(result.cursor.fetchall(), columns=list(result.keys()))
    if "crm_modified_time" in frame:
        frame["crm_modified_time"] = pd.to_datetime(
            frame["crm_modified_time"], utc=True, format="ISO8601"
        )
    return frame.drop(columns=[c for c in ("run_id", "module") if c in frame])


def sum_counts(results: Iterable[dict[str, Any]]) -> tuple[Counter[str], list[str]]:
    """The chunks' counts added up, and the table-level errors they report under "errors"."""
    total: Counter[str] = Counter()
    errors: list[str] = []
    for counts in results:
        errors += counts.get("errors", [])
        total.update({k: v for k, v in counts.items() if k != "errors"})
    return total, errors


def log_chunk(step: str, chunk: Chunk, rows: int, started: float) -> None:
    """The chunk's line in its task log: rows done and the rate."""
    elapsed = time.monotonic() - started
    log.info(
        "%s %s (ids after %r): %s rows in %.1f s, %s rows/s",
        step,
        chunk["label"],
        chunk["after"],
        f"{rows:,}",
        elapsed,
        f"{rows / elapsed if elapsed else 0:,.0f}",
    )


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
    given = {"run_id": run_id, **constants}
    values = [
        repeat(given[name], len(frame)) if name in given else _db_values(frame, name)
        for name in columns
    ]
    return bulk_insert(conn, table_name, columns, zip(*values, strict=False))


def _db_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column as the values a row insert takes: missing values (NaN, NaT) as None, and
    crm_modified_time in the same fixed text form as db_timestamp, vectorised."""
    import pandas as pd

    series = frame[name]
    if name == "crm_modified_time":
        times = series.dt.tz_convert("UTC")
        series = times.dt.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    values = series.to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = None
    return values


def stage_rejects(
    conn: Connection, frames: Iterable[pd.DataFrame | None], run_id: str, stage: str
) -> int:
    """File a step's reject frames in stg_rejects under that step (``transform``, ``quality``)."""
    return sum(
        stage_frame(conn, "stg_rejects", frame, STG_REJECT_COLUMNS, run_id, stage=stage)
        for frame in frames
    )


def counts_row(conn: Connection, name: str, params: dict[str, Any]) -> dict[str, int]:
    row = run_sql(conn, name, params).one()
    return {key: int(value or 0) for key, value in row._mapping.items()}
