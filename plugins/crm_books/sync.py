"""crm_books_sync's steps: extract to staging, transform, quality gate, load, deletions, duplicates, run log.

Each public function is one Airflow task. They take an engine and (where needed) a CRM client, so
tests and the benchmark drive them without Airflow; ``sync_tasks`` builds both from connections.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine

from crm_books import settings
from crm_books.json_text import json_text
from crm_books.record_schema import (
    CONTACT_PERSON_COLUMNS,
    CUSTOMER_COLUMNS,
    REJECT_COLUMNS,
)
from crm_books.warehouse import (
    as_utc,
    bulk_insert,
    db_timestamp,
    locked_transaction,
    migrate,
    run_sql,
    utcnow,
)
from crm_books.warehouse_text import id_problem, quoted

if TYPE_CHECKING:
    import pandas as pd

    from crm_books.crm_client import ZohoCrmClient

log = logging.getLogger(__name__)
T = TypeVar("T")

# Re-read a little before the lower bound: CRM clocks and commit order are not exact.
DEFAULT_OVERLAP = timedelta(minutes=10)
EXTRACT_COMMIT_EVERY = 5_000
# Pages of 200 records the extract fetches ahead of the page it is filing.
READ_AHEAD_PAGES = 4
TRANSFORM_CHUNK = 50_000
DEFAULT_MAX_REJECT_FRACTION = 0.2

# The raw JSON stays in stg_crm_records only; rejects are given theirs back when they are filed.
STG_CUSTOMER_COLUMNS = ("run_id", "module", *CUSTOMER_COLUMNS)
STG_CONTACT_PERSON_COLUMNS = ("run_id", *CONTACT_PERSON_COLUMNS)
STG_REJECT_COLUMNS = ("run_id", "stage", *REJECT_COLUMNS)


class OrganizationMismatchError(RuntimeError):
    """B7: the warehouse belongs to another CRM organisation."""


@dataclass(frozen=True)
class SyncRun:
    """What one run of crm_books_sync is asked to do."""

    run_id: str
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    full_refresh: bool = False
    modules: tuple[str, ...] = settings.SYNC_MODULES
    dag_id: str = settings.SYNC_DAG_ID
    overlap: timedelta = DEFAULT_OVERLAP
    max_reject_fraction: float = DEFAULT_MAX_REJECT_FRACTION
    # Worker processes for the transform and the quality gate (PostgreSQL only); None: the
    # CRM_BOOKS_SYNC_WORKERS environment variable, else the usable cores (crm_books.chunk_workers).
    workers: int | None = None


def ensure_schema(engine: Engine) -> list[str]:
    """Apply pending warehouse migrations."""
    applied = migrate(engine)
    log.info("warehouse schema up to date (%d migrations applied now)", len(applied))
    return applied


def check_organization(engine: Engine, client: ZohoCrmClient) -> dict[str, str]:
    """B7: link the warehouse to the first CRM organisation synced; refuse any other."""
    org = client.organization()
    org_id = str(org.get("id") or "")
    if not org_id:
        raise OrganizationMismatchError("the CRM /org endpoint returned no organisation id")
    with engine.begin() as conn:
        run_sql(
            conn,
            "sync/insert_organization",
            {"crm_org_id": org_id, "org_name": org.get("company_name"), "linked_at": _now()},
        )
        linked = run_sql(conn, "sync/select_organization").one()
    if linked.crm_org_id != org_id:
        raise OrganizationMismatchError(
            f"this warehouse is linked to CRM organisation {linked.crm_org_id} ({linked.org_name}); "
            f"the zoho_crm connection points at organisation {org_id} ({org.get('company_name')}). "
            "Nothing was changed. Point zoho_crm at the linked organisation, or use a new warehouse "
            "for the other one."
        )
    log.info("CRM organisation %s (%s) matches the warehouse", org_id, linked.org_name)
    return {"crm_org_id": org_id, "org_name": str(linked.org_name or "")}


def read_from(run: SyncRun, high_water_mark: datetime | None) -> datetime | None:
    """Lower bound of an incremental read: the earlier of the interval start and the high-water
    mark, minus the overlap. None means read everything (first run or full refresh)."""
    if run.full_refresh or high_water_mark is None:
        return None
    bounds = [b for b in (run.interval_start, high_water_mark) if b is not None]
    return min(bounds) - run.overlap


def extract_module(
    engine: Engine, client: ZohoCrmClient, run: SyncRun, module: str
) -> dict[str, Any]:
    """Stream one module's changed and deleted records from the CRM into staging."""
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
    since = read_from(run, hwm) if recorded is None else as_utc(recorded.read_from)
    # Deletions are always read incrementally (a full refresh re-reads records, not the recycle bin).
    # Before the first import there is nothing in Books to delete, so the history is skipped: a
    # large recycle bin must not block the first sync.
    deleted_mark = deleted_hwm or hwm
    deleted_since = (
        None if deleted_mark is None else read_from(replace(run, full_refresh=False), deleted_mark)
    )
    log.info(
        "extracting %s modified since %s (high-water mark %s, interval start %s%s)",
        module,
        since or "the beginning",
        hwm,
        run.interval_start,
        "; the window this run recorded before" if recorded is not None else "",
    )
    fields = settings.MODULE_FIELDS[module]
    # A full read knows its size up front, so its progress lines can give an ETA.
    expected = _expected_records(client, module) if since is None else None
    started = time.monotonic()
    extracted = 0
    buffer: list[tuple[Any, ...]] = []
    rejects: list[tuple[Any, ...]] = []
    # The next pages are read while this thread files the current one, so the CRM builds them
    # while the rows are encoded and copied into staging.
    for page in read_ahead(client.iter_pages(module, fields, modified_since=since)):
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
            log.info(
                "extract %s: %s",
                module,
                progress_line(extracted, expected, time.monotonic() - started),
            )
    extracted += _flush(engine, "stg_crm_records", buffer)
    extracted += _flush(engine, "stg_rejects", rejects)

    deleted: list[tuple[Any, ...]] = []
    rejects = []
    pages = client.iter_deleted(module, deleted_since=deleted_since) if deleted_mark else iter(())
    for page in pages:
        for item in page:
            crm_id = str(item.get("id", ""))
            if (problem := id_problem(crm_id)) is not None:
                rejects.append(_extract_reject(run.run_id, module, crm_id, item, problem))
                continue
            when = _parse_time(item.get("deleted_time"))
            deleted.append((run.run_id, module, crm_id, db_timestamp(when)))
    deleted_seen = _flush(engine, "stg_crm_deleted", deleted)
    _flush(engine, "stg_rejects", rejects)

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
                "read_from": db_timestamp(since),
                "full_refresh": run.full_refresh,
                "extracted": extracted,
                "now": _now(),
            },
        )
    elapsed = time.monotonic() - started
    log.info(
        "extracted %s: %d records and %d deletions in %.1f s (%.0f records/s)",
        module,
        extracted,
        deleted_seen,
        elapsed,
        extracted / elapsed if elapsed else 0.0,
    )
    return {
        "module": module,
        "extracted": extracted,
        "deleted_seen": deleted_seen,
        "read_from": since.isoformat() if since else None,
    }


def transform_run(
    engine: Engine, run: SyncRun, *, chunk_size: int = TRANSFORM_CHUNK
) -> dict[str, int]:
    """Map and clean this run's newest record versions into staged customers and contact persons."""
    with engine.begin() as conn:
        run_sql(conn, "sync/delete_transformed_staging", {"run_id": run.run_id})
    jobs = [
        (run, module, after, chunk_size)
        for module in run.modules
        for after in _chunk_starts(engine, "sync/select_raw_chunk_starts", run, module, chunk_size)
    ]
    counts, _errors = _add_up(engine, run, "transform", _transform_chunk, jobs)
    log.info(
        "transformed: %d customers, %d contact persons staged; %d records could not be mapped",
        counts["customers"],
        counts["contact_persons"],
        counts["rejected"],
    )
    return {key: counts[key] for key in ("customers", "contact_persons", "rejected")}


def _transform_chunk(
    engine: Engine, run: SyncRun, module: str, after: str, chunk_size: int
) -> dict[str, int]:
    """Transform one keyset chunk of a module's raw records and stage the result (one transaction)."""
    from crm_books import customer_transform as ct

    payloads = _raw_chunk(engine, run.run_id, module, after, chunk_size)
    parsed = ct.parse_payloads(payloads, module=module)
    records = ct.latest_versions(parsed.records, "id", "Modified_Time")
    rejects = [parsed.rejects]
    customers = persons = None
    if module == settings.ACCOUNTS:
        accounts = ct.transform_accounts(records)
        customers, rejects = accounts.customers, [*rejects, accounts.rejects]
    else:
        contacts = ct.transform_contacts(records)
        customers, persons = contacts.customers, contacts.contact_persons
        rejects = [*rejects, contacts.rejects]
    counts = {"rows": len(payloads), "customers": 0, "contact_persons": 0, "rejected": 0}
    with engine.begin() as conn:
        counts["customers"] = _stage_frame(
            conn, "stg_customers", customers, STG_CUSTOMER_COLUMNS, run.run_id, module=module
        )
        if persons is not None:
            counts["contact_persons"] = _stage_frame(
                conn, "stg_contact_persons", persons, STG_CONTACT_PERSON_COLUMNS, run.run_id
            )
        for frame in rejects:
            counts["rejected"] += _stage_frame(
                conn, "stg_rejects", frame, STG_REJECT_COLUMNS, run.run_id, stage="transform"
            )
    return counts


# What the quality gate reads, by label: the query of the staged rows and the one of its chunk starts.
_GATE_TARGETS = {
    "customers": ("sync/select_staged_customers", "sync/select_staged_customer_chunk_starts"),
    "contact persons": (
        "sync/select_staged_contact_persons",
        "sync/select_staged_contact_person_chunk_starts",
    ),
}


def validate_run(
    engine: Engine, run: SyncRun, *, chunk_size: int = TRANSFORM_CHUNK
) -> dict[str, int]:
    """The Great Expectations gate: failing rows are filed as rejects, a failing table stops the run."""
    with engine.begin() as conn:
        run_sql(conn, "sync/delete_quality_rejects", {"run_id": run.run_id})
    targets = [(m, "customers") for m in run.modules]
    if settings.CONTACTS in run.modules:
        targets.append((settings.CONTACTS, "contact persons"))
    jobs = [
        (run, module, label, after, chunk_size)
        for module, label in targets
        for after in _chunk_starts(engine, _GATE_TARGETS[label][1], run, module, chunk_size)
    ]
    counts, errors = _add_up(engine, run, "quality gate", _validate_chunk, jobs)
    with engine.begin() as conn:
        run_sql(conn, "sync/fill_reject_payloads", {"run_id": run.run_id})
    log.info("quality gate: %d rows checked, %d rejected", counts["rows"], counts["rejected"])
    if errors:
        message = "quality gate failed, nothing was loaded: " + " | ".join(errors)
        mark_run_failed(engine, run.run_id, message)
        from crm_books.quality import QualityGateError

        raise QualityGateError(message)
    return {"checked": counts["rows"], "rejected": counts["rejected"]}


def _validate_chunk(
    engine: Engine, run: SyncRun, module: str, label: str, after: str, chunk_size: int
) -> dict[str, Any]:
    """Run the gate on one keyset chunk of staged rows and stage its rejects (one transaction)."""
    from crm_books import quality

    frame = _staged_chunk(engine, _GATE_TARGETS[label][0], run.run_id, module, after, chunk_size)
    if frame.empty:
        return {"rows": 0, "rejected": 0, "errors": []}
    if label == "contact persons":
        result = quality.validate_contact_persons(
            frame, max_reject_fraction=run.max_reject_fraction
        )
    else:
        result = quality.validate_customers(
            frame, module=module, max_reject_fraction=run.max_reject_fraction
        )
    with engine.begin() as conn:
        _stage_frame(
            conn, "stg_rejects", result.rejects, STG_REJECT_COLUMNS, run.run_id, stage="quality"
        )
    return {
        "rows": len(frame),
        "rejected": len(result.rejects),
        "errors": [f"{module} {label}: {e}" for e in result.table_errors],
    }


def _add_up(
    engine: Engine,
    run: SyncRun,
    step: str,
    work: Callable[..., dict[str, Any]],
    jobs: list[tuple[Any, ...]],
) -> tuple[Counter[str], list[str]]:
    """Run the chunk jobs (in worker processes on PostgreSQL), log progress, sum their counts and
    gather the table-level errors they report under "errors"."""
    from crm_books.chunk_workers import effective_workers, map_chunks

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


def load_run(engine: Engine, run: SyncRun) -> dict[str, dict[str, int]]:
    """Upsert the valid staged rows, file the rejects and advance the high-water marks: one transaction."""
    now = _now()
    params = {"run_id": run.run_id, "now": now}
    result: dict[str, dict[str, int]] = {}
    with locked_transaction(engine, "load_customers") as conn:
        loaded = _already_loaded(conn, run)
        if loaded is not None:
            return loaded
        run_sql(conn, "sync/analyze_staging")
        run_sql(conn, "sync/fill_reject_modified_times", params)
        rejected = {
            r.module: (int(r.rejected), int(r.rejected_again or 0))
            for r in run_sql(conn, "sync/count_rejects", params)
        }
        if settings.ACCOUNTS in run.modules:
            counts = _counts(conn, "sync/count_account_customer_changes", params)
            run_sql(conn, "sync/upsert_account_customers", params)
            result[settings.ACCOUNTS] = counts
        if settings.CONTACTS in run.modules:
            counts = _counts(conn, "sync/count_individual_customer_changes", params)
            run_sql(conn, "sync/upsert_individual_customers", params)
            # Contact persons whose account customer exists and who have no held copy go straight
            # to contact_persons; only the others pass through the held list (B2). The count sees
            # both before either is written.
            run_sql(conn, "sync/upsert_pending_contact_persons", params)
            persons = _counts(conn, "sync/count_contact_person_changes", params)
            run_sql(conn, "sync/attach_staged_contact_persons", params)
            for key in counts:
                counts[key] += persons[key]
            result[settings.CONTACTS] = counts
            # B2/B5: a contact that gained or lost its account keeps only its newest shape. Only
            # contacts found both ways are looked at further (none on a first import).
            moves = dict.fromkeys(
                ("deleted", "inactivated", "reactivated", "persons_removed", "held_removed"), 0
            )
            if run_sql(conn, "sync/count_contact_move_candidates", params).scalar():
                run_sql(conn, "sync/stage_contact_moves", params)
                moves = _counts(conn, "sync/count_contact_moves", params)
            if moves["reactivated"]:
                run_sql(conn, "sync/reactivate_moved_individual_customers", params)
            if moves["persons_removed"] or moves["held_removed"]:
                run_sql(conn, "sync/remove_moved_contact_persons", params)
            if moves["deleted"] or moves["inactivated"]:
                run_sql(conn, "sync/retire_moved_individual_customers", params)
        # Held contacts attach whenever their account exists, whichever modules this run read.
        run_sql(conn, "sync/attach_pending_contact_persons", params)
        run_sql(conn, "sync/delete_attached_pending_contact_persons", params)
        run_sql(conn, "sync/mark_primary_contact_persons", params)
        held = int(run_sql(conn, "sync/count_held_contact_persons", params).scalar() or 0)
        run_sql(conn, "sync/insert_rejected_records", params)
        for module, counts in result.items():
            counts["rejected"], counts["rejected_again"] = rejected.get(module, (0, 0))
            counts["held"] = held if module == settings.CONTACTS else 0
            run_sql(conn, "sync/update_sync_run_load", {**params, "module": module, **counts})
            hwm = run_sql(
                conn, "sync/select_raw_high_water_mark", {**params, "module": module}
            ).scalar()
            run_sql(
                conn,
                "sync/advance_high_water_mark",
                {**params, "module": module, "high_water_mark": hwm},
            )
        if settings.CONTACTS in result:
            run_sql(
                conn,
                "sync/update_sync_run_contact_moves",
                {
                    **params,
                    "module": settings.CONTACTS,
                    "deleted": moves["deleted"] + moves["persons_removed"],
                    "inactivated": moves["inactivated"],
                },
            )
            log.info(
                "contact moves: %d individual customers deleted, %d kept inactive, %d reactivated,"
                " %d contact persons and %d held contacts removed",
                moves["deleted"],
                moves["inactivated"],
                moves["reactivated"],
                moves["persons_removed"],
                moves["held_removed"],
            )
    for module, counts in result.items():
        log.info(
            "loaded %s: %d inserted, %d updated, %d unchanged, %d rejected (%d of them filed by an"
            " earlier run already), %d held for their account",
            module,
            counts["inserted"],
            counts["updated"],
            counts["unchanged"],
            counts["rejected"],
            counts["rejected_again"],
            counts["held"],
        )
    return result


def _already_loaded(conn: Connection, run: SyncRun) -> dict[str, dict[str, int]] | None:
    """The counts a committed load of this run recorded, or None when it has not loaded yet.

    Staging is cleared once the run is recorded, so loading the same run again would find nothing
    and overwrite its counts; the run's changes are in the warehouse already."""
    rows = run_sql(conn, "sync/select_loaded_sync_runs", {"run_id": run.run_id}).all()
    if not rows:
        return None
    log.info(
        "run %s was loaded at %s; nothing to do; trigger a new run, or full_refresh, to re-read",
        run.run_id,
        as_utc(rows[0].loaded_at),  # one load stamps every module of the run alike
    )
    keys = ("inserted", "updated", "unchanged", "rejected", "rejected_again", "held")
    return {r.module: {key: int(getattr(r, key) or 0) for key in keys} for r in rows}


def apply_deletions(engine: Engine, run: SyncRun) -> dict[str, int]:
    """B5: customers of deleted CRM records are deleted, or kept inactive when they have transactions."""
    params = {"run_id": run.run_id, "now": _now()}
    with locked_transaction(engine, "apply_deletions") as conn:
        for module in run.modules:
            run_sql(conn, "sync/insert_crm_deletions", {**params, "module": module})
        effects = _counts(conn, "sync/count_deletion_effects", params)
        persons = int(run_sql(conn, "sync/count_deleted_contact_persons", params).scalar() or 0)
        run_sql(conn, "sync/inactivate_deleted_customers", params)
        run_sql(conn, "sync/delete_deleted_customers", params)
        run_sql(conn, "sync/delete_deleted_contact_persons", params)
        for module in run.modules:
            deleted_hwm = run_sql(
                conn, "sync/select_deleted_high_water_mark", {**params, "module": module}
            ).scalar()
            run_sql(
                conn,
                "sync/advance_deleted_high_water_mark",
                {**params, "module": module, "deleted_high_water_mark": deleted_hwm},
            )
            # The run log shows deletion effects on the run's first module row only, not twice.
        first = run.modules[0]
        run_sql(
            conn,
            "sync/update_sync_run_deletions",
            {
                **params,
                "module": first,
                "deleted": effects["deleted"] + persons,
                "inactivated": effects["inactivated"],
            },
        )
    log.info(
        "deletions: %d customers deleted, %d kept inactive (they have transactions), "
        "%d contact persons removed",
        effects["deleted"],
        effects["inactivated"],
        persons,
    )
    return {
        "deleted": effects["deleted"],
        "inactivated": effects["inactivated"],
        "contact_persons_removed": persons,
    }


def flag_duplicates(engine: Engine, run: SyncRun) -> dict[str, int]:
    """B6: record groups of likely duplicate customers; nothing is merged or deleted."""
    from itertools import repeat

    from crm_books.duplicate_detection import customers_frame, find_duplicate_groups, unflagged

    # Under the warehouse lock from the read on: groups computed from customers that another run
    # changes meanwhile would flag what one run after the other would not.
    with locked_transaction(engine, "flag_duplicates") as conn:
        result = run_sql(conn, "duplicates/select_active_customers")
        # Plain DB-API tuples: a frame built from SQLAlchemy rows cost more than the grouping.
        customers = customers_frame(list(result.keys()), result.cursor.fetchall())
        groups = find_duplicate_groups(customers)
        flagged = run_sql(conn, "duplicates/select_candidate_pairs").cursor.fetchall()
        before = after = len(flagged)
        # Every group is recomputed, but only pairs not flagged yet are staged (after the first
        # run, next to none); insert_candidates still skips any flagged in the meantime.
        new = unflagged(groups, flagged)
        if len(new):
            bulk_insert(
                conn,
                "stg_duplicate_candidates",
                ("run_id", "group_key", "customer_id", "match_reason"),
                zip(
                    repeat(run.run_id),
                    new["group_key"].tolist(),
                    new["customer_id"].tolist(),
                    new["match_reason"].tolist(),
                ),
            )
            run_sql(conn, "duplicates/analyze_candidates")
            run_sql(conn, "duplicates/insert_candidates", {"run_id": run.run_id, "now": _now()})
            after = int(run_sql(conn, "duplicates/count_candidates").scalar() or 0)
        run_sql(
            conn,
            "sync/update_sync_run_flagged",
            {"run_id": run.run_id, "module": run.modules[0], "flagged": after - before},
        )
    log.info(
        "duplicates: %d customers in %d likely-duplicate groups, %d newly flagged",
        len(groups),
        groups["group_key"].nunique() if len(groups) else 0,
        after - before,
    )
    return {"in_groups": len(groups), "newly_flagged": after - before}


def finish_run(engine: Engine, run: SyncRun) -> list[dict[str, Any]]:
    """Mark the run successful (also after a failure was recorded: the retry succeeded), clear its
    staging and return the run log rows."""
    with engine.begin() as conn:
        run_sql(
            conn,
            "sync/finish_sync_run",
            {"run_id": run.run_id, "status": "success", "message": None, "now": _now()},
        )
        run_sql(conn, "sync/delete_run_staging", {"run_id": run.run_id})
        rows = [
            dict(r._mapping) for r in run_sql(conn, "sync/select_sync_runs", {"run_id": run.run_id})
        ]
    for row in rows:
        log.info(
            "run summary %s: extracted=%s inserted=%s updated=%s unchanged=%s deleted=%s "
            "inactivated=%s flagged=%s rejected=%s rejected_again=%s held=%s",
            row["module"],
            row["extracted"],
            row["inserted"],
            row["updated"],
            row["unchanged"],
            row["deleted"],
            row["inactivated"],
            row["flagged"],
            row["rejected"],
            row["rejected_again"],
            row["held"],
        )
    return rows


def mark_run_failed(engine: Engine, run_id: str, message: str) -> None:
    """Record a failed run in the run log, whatever it said before (called from the DAG's failure
    callback)."""
    with engine.begin() as conn:
        run_sql(
            conn,
            "sync/finish_sync_run",
            {"run_id": run_id, "status": "failed", "message": message[:2000], "now": _now()},
        )


def record_refused_run(engine: Engine, run: SyncRun, message: str) -> None:
    """Give each of the run's modules that has no run-log row yet a failed one saying why, so a
    run refused before its extract (B7, Params) is in books.sync_runs too."""
    now = _now()
    rows = [
        {
            "run_id": run.run_id,
            "module": module,
            "dag_id": run.dag_id,
            "interval_start": db_timestamp(run.interval_start),
            "interval_end": db_timestamp(run.interval_end),
            "full_refresh": run.full_refresh,
            "message": message[:2000],
            "now": now,
        }
        for module in run.modules
    ]
    if rows:
        with engine.begin() as conn:
            run_sql(conn, "sync/insert_refused_sync_run", rows)


# -- helpers -------------------------------------------------------------------------------------


def _now() -> str:
    return db_timestamp(utcnow()) or ""


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


_FLUSH_COLUMNS = {
    "stg_crm_records": ("run_id", "module", "crm_id", "modified_time", "payload"),
    "stg_crm_deleted": ("run_id", "module", "crm_id", "deleted_time"),
    "stg_rejects": STG_REJECT_COLUMNS,
}


def _flush(engine: Engine, table_name: str, rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    columns = _FLUSH_COLUMNS[table_name]
    with engine.begin() as conn:
        return bulk_insert(conn, table_name, columns, rows)


def read_ahead(items: Iterator[T], depth: int = READ_AHEAD_PAGES) -> Iterator[T]:
    """Yield what ``items`` yields, in order, while a thread already fetches up to ``depth``
    more. Its exception is raised here; a caller that stops early stops the thread too."""
    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("done", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put(("error", exc))

    thread = threading.Thread(target=produce, name="crm-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()


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


def _expected_records(client: ZohoCrmClient, module: str) -> int | None:
    try:
        return client.count(module)
    except Exception as exc:  # progress is a nicety; never fail an extract over it
        log.info("could not count %s for the progress ETA (%s)", module, exc)
        return None


def _chunk_starts(
    engine: Engine, query: str, run: SyncRun, module: str, chunk_size: int
) -> list[str]:
    """The crm_id after which each chunk of ``chunk_size`` ids starts ("" for the first), so the
    chunks are known up front and can be worked on at the same time."""
    with engine.connect() as conn:
        bounds = run_sql(
            conn, query, {"run_id": run.run_id, "module": module, "chunk_size": chunk_size}
        ).scalars()
        return ["", *(str(b) for b in bounds)]


def _raw_chunk(engine: Engine, run_id: str, module: str, after: str, chunk_size: int) -> list[str]:
    with engine.connect() as conn:
        rows = run_sql(
            conn,
            "sync/select_latest_raw_records",
            {"run_id": run_id, "module": module, "after_crm_id": after, "chunk_size": chunk_size},
        )
        return [payload for _crm_id, payload in rows.tuples()]


def _staged_chunk(
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


def _stage_frame(
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


def _counts(conn: Connection, name: str, params: dict[str, Any]) -> dict[str, int]:
    row = run_sql(conn, name, params).one()
    return {key: int(value or 0) for key, value in row._mapping.items()}
