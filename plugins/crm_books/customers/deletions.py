"""B5: customers of deleted CRM records are deleted, or kept inactive."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from crm_books.warehouse.engine import locked_transaction
from crm_books.warehouse.sql_files import run_sql

if TYPE_CHECKING:
    pass
from crm_books.customers.plan import SyncRun
from crm_books.customers.staging import counts_row
from crm_books.warehouse.timestamps import db_now

log = logging.getLogger(__name__)


def apply_deletions(engine: Engine, run: SyncRun) -> dict[str, int]:
    """B5: customers of deleted CRM records are deleted, or kept inactive when they have transactions."""
    params = {"run_id": run.run_id, "now": db_now()}
    with locked_transaction(engine, "apply_deletions") as conn:
        for module in run.modules:
            run_sql(conn, "sync/insert_crm_deletions", {**params, "module": module})
        effects = counts_row(conn, "sync/count_deletion_effects", params)
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
