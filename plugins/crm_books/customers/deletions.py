"""B5: customers of deleted CRM records are deleted, or kept inactive."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from crm_books.customers.plan import SyncRun
from crm_books.warehouse.engine import locked_transaction
from crm_books.warehouse.sql_files import count_returned, run_sql
from crm_books.warehouse.timestamps import db_now

log = logging.getLogger(__name__)


def apply_deletions(engine: Engine, run: SyncRun) -> dict[str, int]:
    """B5: customers of deleted CRM records are deleted, or kept inactive when they have transactions."""
    params = {"run_id": run.run_id, "now": db_now()}
    with locked_transaction(engine, "apply_deletions") as conn:
        for module in run.modules:
            module_params = {**params, "module": module}
            run_sql(conn, "sync/insert_crm_deletions", module_params)
            deleted_hwm = run_sql(
                conn, "sync/select_deleted_high_water_mark", module_params
            ).scalar()
            run_sql(
                conn,
                "sync/advance_deleted_high_water_mark",
                {**module_params, "deleted_high_water_mark": deleted_hwm},
            )
        effects = count_returned(conn, "sync/apply_crm_deletions", params)
        # Each module's row counts the deletions of its own records (a contact's, on Contacts).
        for module in run.modules:
            run_sql(
                conn,
                "sync/update_sync_run_deletions",
                {
                    **params,
                    "module": module,
                    "deleted": effects[f"{module}:deleted"]
                    + effects[f"{module}:contact_persons_removed"],
                    "inactivated": effects[f"{module}:inactivated"],
                },
            )
        counts = {
            key: sum(effects[f"{m}:{key}"] for m in run.modules)
            for key in ("deleted", "inactivated", "contact_persons_removed")
        }
    log.info(
        "deletions: %d customers deleted, %d kept inactive (they have transactions), "
        "%d contact persons removed",
        *counts.values(),
    )
    return counts
