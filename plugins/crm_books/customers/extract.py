"""Stream a module's changed and deleted CRM records into staging."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine

from crm_books import config
from crm_books.customers.plan import SyncRun
from crm_books.customers.staging import STG_REJECT_COLUMNS
from crm_books.incremental import read_from
from crm_books.json_text import json_text
from crm_books.warehouse.bulk import bulk_insert
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.text import id_problem, quoted
from crm_books.warehouse.timestamps import as_utc, db_now, db_timestamp
from crm_books.zoho.windows import merged

if TYPE_CHECKING:
    from crm_books.zoho.client import ZohoCrmClient

log = logging.getLogger(__name__)
T = TypeVar("T")


EXTRACT_COMMIT_EVERY = 5_000

# The staging tables the extract fills, and their columns.
STAGED_COLUMNS = {
    "stg_crm_records": ("run_id", "module", "crm_id", "modified_time", "payload"),
    "stg_crm_deleted": ("run_id", "module", "crm_id", "deleted_time"),
    "stg_rejects": STG_REJECT_COLUMNS,
}


# Pages of 200 records the extract fetches ahead of the page it is filing.
READ_AHEAD_PAGES = 4


@dataclass(frozen=True)
class ReadWindow:
    """Where a module's reads start: records modified since ``since`` (None: every record),
    deletions since ``deleted_since`` (None with ``read_deletions`` False: none are read)."""

    since: datetime | None
    deleted_since: datetime | None
    read_deletions: bool


def extract_module(
    engine: Engine, client: ZohoCrmClient, run: SyncRun, module: str
) -> dict[str, Any]:
    """Stream one module's changed and deleted records from the CRM into staging.

    A run whose load has committed is not read again (its staging is gone and its run log is
    final): clearing only the extract of a finished run changes nothing."""
    loaded = _loaded_extract(engine, run, module)
    if loaded is not None:
        return loaded
    window = read_window(engine, run, module)
    started = time.monotonic()
    used_before = client.usage()
    # The recycle bin is read while the records are (the calls share the client's limiter).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-deleted") as pool:
        deleted = pool.submit(_deleted_items, client, module, window)
        extracted = _stage_records(engine, client, run, module, window.since)
        deleted_seen = _stage_deletions(engine, run, module, deleted.result())
    used = client.usage() - used_before
    with engine.begin() as conn:
        run_sql(
            conn,
            "sync/upsert_sync_run",
            {
                "run_id": run.run_id,
                "module": module,
                "dag_id": run.dag_id,
                "interval_start": db_timestamp(run.interval_start),
                "interval_end": db_timestamp(run.interval_end),
                "read_from": db_timestamp(window.since),
                "full_refresh": run.full_refresh,
                "extracted": extracted,
                "api_calls": used.api_calls,
                "api_credits": used.api_credits,
                "bulk_jobs": used.bulk_jobs,
                "now": db_now(),
            },
        )
    elapsed = time.monotonic() - started
    log.info(
        "extracted %s: %d records and %d deletions in %.1f s (%.0f records/s), "
        "%d API calls, %d credits, %d bulk jobs",
        module,
        extracted,
        deleted_seen,
        elapsed,
        extracted / elapsed if elapsed else 0.0,
        used.api_calls,
        used.api_credits,
        used.bulk_jobs,
    )
    return {
        "module": module,
        "extracted": extracted,
        "deleted_seen": deleted_seen,
        "api_calls": used.api_calls,
        "api_credits": used.api_credits,
        "read_from": window.since.isoformat() if window.since else None,
    }


def _loaded_extract(engine: Engine, run: SyncRun, module: str) -> dict[str, Any] | None:
    """What the extract of an already loaded run recorded, or None when the run is not loaded."""
    with engine.connect() as conn:
        rows = run_sql(conn, "sync/select_loaded_sync_runs", {"run_id": run.run_id}).all()
    row = next((r for r in rows if r.module == module), None)
    if row is None:
        return None
    read_from_at = as_utc(row.read_from)
    log.info(
        "run %s was loaded at %s; %s is not read again; trigger a new run, or full_refresh, to"
        " re-read",
        run.run_id,
        as_utc(row.loaded_at),
        module,
    )
    return {
        "module": module,
        "extracted": int(row.extracted or 0),
        "deleted_seen": 0,
        "api_calls": 0,
        "api_credits": 0,
        "read_from": read_from_at.isoformat() if read_from_at else None,
    }


def read_window(engine: Engine, run: SyncRun, module: str) -> ReadWindow:
    """Clear the module's raw staging of an earlier attempt and work out what to read."""
    with engine.begin() as conn:
        run_sql(conn, "sync/delete_raw_staging", {"run_id": run.run_id, "module": module})
        state = run_sql(conn, "sync/select_sync_state", {"module": module}).one_or_none()
        recorded = run_sql(
            conn, "sync/select_sync_run_read_from", {"run_id": run.run_id, "module": module}
        ).one_or_none()
    hwm = as_utc(state.high_water_mark) if state else None
    deleted_hwm = as_utc(state.deleted_high_water_mark) if state else None
    # A re-run of this run reads the window its first attempt read, not one from the high-water
    # mark that attempt's load advanced: the same records, the same counts.
    since = (
        None
        if run.full_refresh
        else read_from(run.interval_start, hwm, run.overlap)
        if recorded is None
        else as_utc(recorded.read_from)
    )
    # Deletions are always read incrementally (a full refresh re-reads records, not the recycle bin).
    # Before the first import there is nothing in Books to delete, so the history is skipped: a
    # large recycle bin must not block the first sync.
    deleted_mark = deleted_hwm or hwm
    log.info(
        "extracting %s modified since %s (high-water mark %s, interval start %s%s)",
        module,
        since or "the beginning",
        hwm,
        run.interval_start,
        "; the window this run recorded before" if recorded is not None else "",
    )
    return ReadWindow(
        since=since,
        deleted_since=read_from(run.interval_start, deleted_mark, run.overlap),
        read_deletions=deleted_mark is not None,
    )


def _stage_records(
    engine: Engine, client: ZohoCrmClient, run: SyncRun, module: str, since: datetime | None
) -> int:
    """Stage the module's records modified since ``since``, committing every few thousand."""
    pages, expected = record_pages(client, run, module, since)
    started = time.monotonic()
    extracted = 0
    buffer: list[tuple[Any, ...]] = []
    rejects: list[tuple[Any, ...]] = []
    # The next pages are read while this thread files the current one, so the CRM builds them
    # while the rows are encoded and copied into staging.
    for page in read_ahead(pages):
        for record in page:
            raw, reject = _raw_row(run.run_id, module, record)
            if reject is None:
                buffer.append(raw)
            else:
                rejects.append(reject)
        if len(buffer) >= EXTRACT_COMMIT_EVERY:
            extracted += _flush(engine, "stg_crm_records", buffer)
            extracted += _flush(engine, "stg_rejects", rejects)
            buffer, rejects = [], []
            elapsed = time.monotonic() - started
            log.info("extract %s: %s", module, progress_line(extracted, expected, elapsed))
    extracted += _flush(engine, "stg_crm_records", buffer)
    return extracted + _flush(engine, "stg_rejects", rejects)


def record_pages(
    client: ZohoCrmClient, run: SyncRun, module: str, since: datetime | None
) -> tuple[Iterator[list[dict[str, Any]]], int | None]:
    """The pages to stage, and how many records are expected (None: not known).

    A read of more records than the client's ``bulk_read_threshold`` goes through Bulk Read:
    a full read (the first sync, a full_refresh) counts the module, an incremental read the
    records modified since its start. Other reads go through REST, an incremental one cut into
    windows up to the run's interval end read concurrently; its count and its first page are
    asked for at once. A threshold of None switches Bulk Read off; a failed count reads through
    REST."""
    fields = config.MODULE_FIELDS[module]
    threshold = client.bulk_read_threshold
    counted: Future[int | None] = Future()
    rest = client.iter_pages(
        module,
        fields,
        modified_since=since,
        split_until=run.interval_end,
        expected=None if threshold is None else counted.result,
    )
    if since is None:
        expected = _expected_records(client, module, since)
    elif threshold is None:
        # An incremental read without Bulk Read needs no count (a quiet interval costs one call).
        return rest, None
    else:
        # The count and the first REST page at once: most intervals stay on REST, and one
        # latency less is a large share of a small read (a switch to Bulk Read drops one page).
        # The REST read's rest is then read page-parallel from the count.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-first-page") as pool:
            first = pool.submit(next, rest, None)
            expected = _expected_records(client, module, since)
            counted.set_result(expected)
            head = first.result()
        if expected is None or expected <= threshold:
            return (rest if head is None else chain([head], rest)), None
        rest.close()
    if threshold is not None and expected is not None and expected > threshold:
        log.info(
            "extract %s: %s through Bulk Read (%s records, above bulk_read_threshold %s)",
            module,
            "a full read" if since is None else f"records modified since {since}",
            f"{expected:,}",
            f"{threshold:,}",
        )
        return client.iter_bulk_pages(module, fields, modified_since=since), expected
    return rest, expected


def _deleted_items(client: ZohoCrmClient, module: str, window: ReadWindow) -> list[dict[str, Any]]:
    """The module's records deleted since the window's start (none when it reads no deletions)."""
    if not window.read_deletions:
        return []
    pages = client.iter_deleted(module, deleted_since=window.deleted_since)
    return [item for page in pages for item in page]


def _stage_deletions(engine: Engine, run: SyncRun, module: str, items: list[dict[str, Any]]) -> int:
    """Stage deleted records (ids that cannot be stored become rejects); returns how many."""
    deleted: list[tuple[Any, ...]] = []
    rejects: list[tuple[Any, ...]] = []
    for item in items:
        crm_id = str(item.get("id", ""))
        if (problem := id_problem(crm_id)) is not None:
            rejects.append(_extract_reject(run.run_id, module, crm_id, item, problem))
            continue
        when = _parse_time(item.get("deleted_time"))
        deleted.append((run.run_id, module, crm_id, db_timestamp(when)))
    deleted_seen = _flush(engine, "stg_crm_deleted", deleted)
    _flush(engine, "stg_rejects", rejects)
    return deleted_seen


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return None


def _raw_row(
    run_id: str, module: str, record: dict[str, Any]
) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    """The record's stg_crm_records row, and its stg_rejects row when its id cannot be staged (a
    key of staging's indexes). json_text escapes lone surrogates, so any payload can be staged."""
    crm_id = str(record.get("id", ""))
    payload = json_text(record)
    if (problem := id_problem(crm_id)) is not None:
        return (), _extract_reject(run_id, module, crm_id, payload, problem)
    modified = _parse_time(record.get("Modified_Time"))
    return (run_id, module, crm_id, db_timestamp(modified), payload), None


def _extract_reject(
    run_id: str, module: str, crm_id: str, record: dict[str, Any] | str, problem: str
) -> tuple[Any, ...]:
    """A stg_rejects row (stage 'extract') for a record whose id the warehouse cannot key on."""
    payload = record if isinstance(record, str) else json_text(record)
    return (run_id, "extract", module, quoted(crm_id), f"id {problem}", payload)


def _flush(engine: Engine, table_name: str, rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    columns = STAGED_COLUMNS[table_name]
    with engine.begin() as conn:
        return bulk_insert(conn, table_name, columns, rows)


def read_ahead(items: Iterator[T], depth: int = READ_AHEAD_PAGES) -> Iterator[T]:
    """Yield what ``items`` yields, in order, while a thread already fetches up to ``depth``
    more. Its exception is raised here; a caller that stops early stops the thread too."""
    return merged([items], depth)


def progress_line(done: int, expected: int | None, elapsed: float) -> str:
    """'12,000 of 50,000 records (24 %), 3,100 records/s, ETA 12 s' — ETA only when the total is known."""
    rate = done / elapsed if elapsed > 0 else 0.0
    text = f"{done:,} records so far, {rate:,.0f} records/s"
    if expected and rate > 0:
        remaining = max(expected - done, 0) / rate
        text = (
            f"{done:,} of {expected:,} records ({min(done / expected, 1.0):.0%}), "
            f"{rate:,.0f} records/s, ETA {remaining:,.0f} s"
        )
    return text


def _expected_records(client: ZohoCrmClient, module: str, since: datetime | None) -> int | None:
    """The records a read will give (Zoho's /actions/count), None when the count fails: it
    gives progress ETAs and picks the path, so a failed count falls back to REST."""
    try:
        return client.count(module, modified_since=since)
    except Exception as exc:  # never fail an extract over it
        log.info("could not count the %s to read (%s)", module, exc)
        return None
