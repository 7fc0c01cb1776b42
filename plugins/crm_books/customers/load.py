"""Upsert the valid staged rows into customers and contact persons: one transaction."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from crm_books import config
from crm_books.warehouse.engine import locked_transaction
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.timestamps import as_utc

if TYPE_CHECKING:
    pass
from crm_books.customers.plan import SyncRun
from crm_books.customers.staging import STG_REJECT_COLUMNS, counts_row
from crm_books.warehouse.timestamps import db_now

log = logging.getLogger(__name__)


def load_run(engine: Engine, run: SyncRun) -> dict[str, dict[str, int]]:
    """Upsert the valid staged rows, file the rejects and advance the high-water marks: one transaction."""
    now = db_now()
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
        if config.ACCOUNTS in run.modules:
            counts = counts_row(conn, "sync/count_account_customer_changes", params)
            run_sql(conn, "sync/upsert_account_customers", params)
            result[config.ACCOUNTS] = counts
        if config.CONTACTS in run.modules:
            counts = counts_row(conn, "sync/count_individual_customer_changes", params)
            run_sql(conn, "sync/upsert_individual_customers", params)
            # Contact persons whose account customer exists and who have no held copy go straight
            # to contact_persons; only the others pass through the held list (B2). The count sees
            # both before either is written.
            run_sql(conn, "sync/upsert_pending_contact_persons", params)
            persons = counts_row(conn, "sync/count_contact_person_changes", params)
            run_sql(conn, "sync/attach_staged_contact_persons", params)
            for key in counts:
                counts[key] += persons[key]
            result[config.CONTACTS] = counts
            # B2/B5: a contact that gained or lost its account keeps only its newest shape. Only
            # contacts found both ways are looked at further (none on a first import).
            moves = dict.fromkeys(
                ("deleted", "inactivated", "reactivated", "persons_removed", "held_removed"), 0
            )
            if run_sql(conn, "sync/count_contact_move_candidates", params).scalar():
                run_sql(conn, "sync/stage_contact_moves", params)
                moves = counts_row(conn, "sync/count_contact_moves", params)
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
            counts["held"] = held if module == config.CONTACTS else 0
            run_sql(conn, "sync/update_sync_run_load", {**params, "module": module, **counts})
            hwm = run_sql(
                conn, "sync/select_raw_high_water_mark", {**params, "module": module}
            ).scalar()
            run_sql(
                conn,
                "sync/advance_high_water_mark",
                {**params, "module": module, "high_water_mark": hwm},
            )
        if config.CONTACTS in result:
            run_sql(
                conn,
                "sync/update_sync_run_contact_moves",
                {
                    **params,
                    "module": config.CONTACTS,
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


_FLUSH_COLUMNS = {
    "stg_crm_records": ("run_id", "module", "crm_id", "modified_time", "payload"),
    "stg_crm_deleted": ("run_id", "module", "crm_id", "deleted_time"),
    "stg_rejects": STG_REJECT_COLUMNS,
}
