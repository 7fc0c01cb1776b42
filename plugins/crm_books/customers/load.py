"""Upsert the valid staged rows into customers and contact persons: one transaction."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, Engine

from crm_books import config
from crm_books.customers.plan import SyncRun
from crm_books.customers.staging import STG_REJECT_COLUMNS, counts_row
from crm_books.warehouse.bulk import CustomerKey, foreign_key_checked_after
from crm_books.warehouse.engine import locked_transaction
from crm_books.warehouse.sql_files import count_returned, run_sql
from crm_books.warehouse.timestamps import as_utc, db_now

log = logging.getLogger(__name__)

Counts = dict[str, int]
_WRITES = ("inserted", "updated", "unchanged")
_PERSON_COUNTS = tuple(f"contact_persons_{key}" for key in _WRITES)
_LOAD_COUNTS = (*_WRITES, "rejected", "rejected_again", "held", *_PERSON_COUNTS)
_MOVES = ("deleted", "inactivated", "reactivated", "persons_removed", "held_removed")
_PERSON_CUSTOMER = CustomerKey("contact_persons", "contact_persons_customer_id_fkey")


def load_run(engine: Engine, run: SyncRun) -> dict[str, Counts]:
    """Upsert the valid staged rows, file the rejects and advance the high-water marks: one transaction."""
    params = {"run_id": run.run_id, "now": db_now()}
    with locked_transaction(engine, "load_customers") as conn:
        loaded = _already_loaded(conn, run)
        if loaded is not None:
            return loaded
        run_sql(conn, "sync/load_settings")
        if not run_sql(
            conn, "warehouse/table_has_rows", names={"table_name": "customers"}
        ).scalar():
            run_sql(conn, "sync/first_import_settings")
        run_sql(conn, "sync/analyze_staging")
        rejected = _file_rejects(conn, params)
        result = _write(conn, run, params)
        held = int(run_sql(conn, "sync/settle_contact_persons", params).scalar() or 0)
        for module, counts in result.items():
            counts["rejected"], counts["rejected_again"] = rejected.get(module, (0, 0))
            counts["held"] = held if module == config.CONTACTS else 0
            _record_module(conn, {**params, "module": module}, counts)
    _log_loaded(result)
    return result


def _write(conn: Connection, run: SyncRun, params: dict[str, Any]) -> dict[str, Counts]:
    """Customers, then contact persons: each write returns what it inserted or updated, and what
    it was given and did not write is unchanged. Per module; a Contacts row counts its individual
    customers and its contact persons (the ``contact_persons_*`` counts say how many of each)."""
    written = count_returned(conn, "sync/load_customers", {**params, "modules": list(run.modules)})
    if config.CONTACTS in run.modules:  # after the customers: held = no account customer yet
        run_sql(conn, "sync/hold_contact_persons", params)
    given = counts_row(conn, "sync/count_load_input", params)
    result = {
        module: _counts(written[f"{module}:inserted"], written[f"{module}:updated"], given[key])
        for module, key in ((config.ACCOUNTS, "accounts"), (config.CONTACTS, "individuals"))
        if module in run.modules
    }
    for counts in result.values():
        counts.update(dict.fromkeys(_PERSON_COUNTS, 0))
    contacts = result.get(config.CONTACTS)
    persons, moves = dict.fromkeys(_WRITES, 0), dict.fromkeys(_MOVES, 0)
    if contacts is not None:
        _add(persons, _attach_contact_persons(conn, params, given["contact_persons"], run.run_id))
        moves = _reconcile_contact_moves(conn, params)
    # Held contacts attach whenever their account exists, whichever modules this run read.
    waiting = int(run_sql(conn, "sync/count_attachable_held", params).scalar() or 0)
    if waiting:  # most runs: none (the upsert would still join every held contact to customers)
        _add(persons, _attach_contact_persons(conn, params, waiting, attach_held=True))
    if contacts is not None:
        _add(contacts, persons)
        contacts.update(zip(_PERSON_COUNTS, persons.values(), strict=True))
        _record_contact_moves(conn, params, moves)
    return result


def _counts(inserted: int, updated: int, given: int) -> Counts:
    return {"inserted": inserted, "updated": updated, "unchanged": given - inserted - updated}


def _add(total: Counts, more: Counts) -> None:
    for key in _WRITES:
        total[key] += more[key]


def _file_rejects(conn: Connection, params: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """File this run's rejects; per module, how many there were and how many were filed before."""
    rows = run_sql(conn, "sync/file_rejects", params)
    return {r.module: (int(r.rejected), int(r.rejected_again or 0)) for r in rows}


def _attach_contact_persons(
    conn: Connection,
    params: dict[str, Any],
    given: int,
    staged_run_id: str | None = None,
    *,
    attach_held: bool = False,
) -> Counts:
    """Contact persons join their account customer: the run's staged ones that nothing is held
    for, before the contact moves are reconciled, or the held ones, after them (one upsert).
    ``given``: how many the upsert is given; returns what it inserted, updated and left alone."""
    with foreign_key_checked_after(conn, _PERSON_CUSTOMER, given):
        written = count_returned(
            conn,
            "sync/upsert_contact_persons",
            {**params, "staged_run_id": staged_run_id, "attach_held": int(attach_held)},
        )
    return _counts(written["inserted"], written["updated"], given)


def _reconcile_contact_moves(conn: Connection, params: dict[str, Any]) -> Counts:
    """B2/B5: a contact that gained or lost its account keeps only its newest shape.

    Only contacts found both ways are looked at (none on a first import)."""
    if not run_sql(conn, "sync/count_contact_move_candidates", params).scalar():
        return dict.fromkeys(_MOVES, 0)
    decided = run_sql(conn, "sync/reconcile_contact_moves", params).all()
    retired = [r for r in decided if r.retire]
    return {
        "deleted": sum(1 for r in retired if not r.kept),
        "inactivated": sum(1 for r in retired if r.kept),
        "reactivated": sum(r.reactivate for r in decided),
        "persons_removed": sum(r.person_removed for r in decided),
        "held_removed": sum(r.held_removed for r in decided),
    }


def _record_module(conn: Connection, params: dict[str, Any], counts: Counts) -> None:
    """The module's counts on its run-log row, and its high-water mark moved up to this run's."""
    run_sql(conn, "sync/update_sync_run_load", {**params, **counts})
    hwm = run_sql(conn, "sync/select_raw_high_water_mark", params).scalar()
    run_sql(conn, "sync/advance_high_water_mark", {**params, "high_water_mark": hwm})


def _record_contact_moves(conn: Connection, params: dict[str, Any], moves: Counts) -> None:
    deleted = moves["deleted"] + moves["persons_removed"]
    run_sql(
        conn,
        "sync/update_sync_run_contact_moves",
        {
            **params,
            "module": config.CONTACTS,
            "deleted": deleted,
            "inactivated": moves["inactivated"],
        },
    )
    log.info(
        "contact moves: %d individual customers deleted, %d kept inactive, %d reactivated,"
        " %d contact persons and %d held contacts removed",
        *(moves[key] for key in _MOVES),
    )


def _log_loaded(result: dict[str, Counts]) -> None:
    for module, counts in result.items():
        log.info(
            "loaded %s: %d inserted, %d updated, %d unchanged, %d rejected (%d of them filed by an"
            " earlier run already), %d held for their account; of the writes, contact persons:"
            " %d inserted, %d updated, %d unchanged",
            module,
            *(counts[key] for key in _LOAD_COUNTS),
        )


def _already_loaded(conn: Connection, run: SyncRun) -> dict[str, Counts] | None:
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
    return {r.module: {key: int(getattr(r, key) or 0) for key in _LOAD_COUNTS} for r in rows}


_FLUSH_COLUMNS = {
    "stg_crm_records": ("run_id", "module", "crm_id", "modified_time", "payload"),
    "stg_crm_deleted": ("run_id", "module", "crm_id", "deleted_time"),
    "stg_rejects": STG_REJECT_COLUMNS,
}
