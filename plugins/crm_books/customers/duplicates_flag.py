"""B6: record groups of likely duplicate customers."""

from __future__ import annotations

import logging
from itertools import repeat
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from crm_books.customers.plan import SyncRun
from crm_books.warehouse.bulk import bulk_insert
from crm_books.warehouse.engine import locked_transaction
from crm_books.warehouse.sql_files import count_returned, run_sql
from crm_books.warehouse.timestamps import db_now

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


def flag_duplicates(engine: Engine, run: SyncRun) -> dict[str, int]:
    """B6: record groups of likely duplicate customers; nothing is merged or deleted."""
    # Imported here: pandas and the matching rules are only needed by this task.
    from crm_books.customers.duplicates import customers_frame, find_duplicate_groups, unflagged

    # Under the warehouse lock from the read on: groups computed from customers that another run
    # changes meanwhile would flag what one run after the other would not.
    with locked_transaction(engine, "flag_duplicates") as conn:
        result = run_sql(conn, "duplicates/select_active_customers")
        # Plain DB-API tuples: a frame built from SQLAlchemy rows cost more than the grouping.
        customers = customers_frame(list(result.keys()), result.cursor.fetchall())
        groups = find_duplicate_groups(customers)
        flagged = run_sql(conn, "duplicates/select_candidate_pairs").cursor.fetchall()
        # Every group is recomputed, but only pairs not flagged yet are staged (after the first
        # run, next to none); insert_candidates still skips any flagged in the meantime.
        new = unflagged(groups, flagged)
        newly = _insert_candidates(conn, run, new) if len(new) else 0
        run_sql(
            conn,
            "sync/update_sync_run_flagged",
            {"run_id": run.run_id, "module": run.modules[0], "flagged": newly},
        )
    log.info(
        "duplicates: %d customers in %d likely-duplicate groups, %d newly flagged",
        len(groups),
        groups["group_key"].nunique() if len(groups) else 0,
        newly,
    )
    return {"in_groups": len(groups), "newly_flagged": newly}


def _insert_candidates(conn: Connection, run: SyncRun, new: pd.DataFrame) -> int:
    """Stage the new pairs and insert them as open candidates; how many were inserted."""
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
    params = {"run_id": run.run_id, "now": db_now()}
    return count_returned(conn, "duplicates/insert_candidates", params)["flagged"]
