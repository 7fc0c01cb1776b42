"""The run log in books.sync_runs: how each run ended."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, Engine

from crm_books.customers.plan import SyncRun
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.timestamps import db_now, db_timestamp

log = logging.getLogger(__name__)


def finish_run(engine: Engine, run: SyncRun) -> list[dict[str, Any]]:
    """Mark the run successful (also after a failure was recorded: the retry succeeded), clear its
    staging and return the run log rows."""
    with engine.begin() as conn:
        run_sql(
            conn,
            "sync/finish_sync_run",
            {"run_id": run.run_id, "status": "success", "message": None, "now": db_now()},
        )
        _clear_staging(conn, run)
        rows = [
            dict(r._mapping) for r in run_sql(conn, "sync/select_sync_runs", {"run_id": run.run_id})
        ]
    for row in rows:
        log.info(
            "run summary %s: extracted=%s inserted=%s updated=%s unchanged=%s (contact persons:"
            " inserted=%s updated=%s unchanged=%s) deleted=%s inactivated=%s flagged=%s"
            " rejected=%s rejected_again=%s held=%s api_calls=%s api_credits=%s bulk_jobs=%s",
            row["module"],
            row["extracted"],
            row["inserted"],
            row["updated"],
            row["unchanged"],
            row["contact_persons_inserted"],
            row["contact_persons_updated"],
            row["contact_persons_unchanged"],
            row["deleted"],
            row["inactivated"],
            row["flagged"],
            row["rejected"],
            row["rejected_again"],
            row["held"],
            row["api_calls"],
            row["api_credits"],
            row["bulk_jobs"],
        )
    return rows


def _clear_staging(conn: Connection, run: SyncRun) -> None:
    """The run's staged rows are no longer needed once it is recorded: all of staging at once
    when no other run (e.g. a failed one, kept for its retry) has rows there, else the run's."""
    params = {"run_id": run.run_id}
    run_sql(conn, "sync/lock_run_staging")
    if run_sql(conn, "sync/other_runs_staged", params).scalar():
        run_sql(conn, "sync/delete_run_staging", params)
    else:
        run_sql(conn, "sync/clear_staging")


def mark_run_failed(engine: Engine, run_id: str, message: str) -> None:
    """Record a failed run in the run log, whatever it said before (called from the DAG's failure
    callback)."""
    with engine.begin() as conn:
        run_sql(
            conn,
            "sync/finish_sync_run",
            {"run_id": run_id, "status": "failed", "message": message[:2000], "now": db_now()},
        )


def record_refused_run(engine: Engine, run: SyncRun, message: str) -> None:
    """Give each of the run's modules that has no run-log row yet a failed one saying why, so a
    run refused before its extract (B7, Params) is in books.sync_runs too."""
    now = db_now()
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
