"""The Deals high-water marks potential_reconcile has applied (books.sync_state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from crm_books import config
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.timestamps import as_utc, db_timestamp, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

# books.sync_state row holding the reconciled Deals high-water marks.
STATE_MODULE = config.DEALS


@dataclass(frozen=True)
class DealMarks:
    """The newest Modified_Time and deleted_time potential_reconcile has applied."""

    modified: datetime | None = None
    deleted: datetime | None = None


def read_marks(conn: Connection) -> DealMarks:
    row = run_sql(conn, "sync/select_sync_state", {"module": STATE_MODULE}).one_or_none()
    if row is None:
        return DealMarks()
    return DealMarks(as_utc(row.high_water_mark), as_utc(row.deleted_high_water_mark))


def advance_marks(conn: Connection, marks: DealMarks, run_id: str) -> None:
    """Move the marks forward to ``marks`` (never back), inside the caller's transaction."""
    params = {"module": STATE_MODULE, "run_id": run_id, "now": db_timestamp(utcnow())}
    if marks.modified is not None:
        run_sql(
            conn,
            "sync/advance_high_water_mark",
            {**params, "high_water_mark": db_timestamp(marks.modified)},
        )
    if marks.deleted is not None:
        run_sql(
            conn,
            "sync/advance_deleted_high_water_mark",
            {**params, "deleted_high_water_mark": db_timestamp(marks.deleted)},
        )
