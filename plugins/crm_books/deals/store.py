"""Warehouse edge of the Potential workflow: read the current state, apply a plan in one transaction."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from crm_books.config import DOCUMENT_TABLES
from crm_books.deals.frames import (
    CUSTOMER_COLUMNS,
    DOCUMENT_COLUMNS,
    KNOWN_DEAL_COLUMNS,
    empty_frame,
)
from crm_books.deals.rules import Plan
from crm_books.warehouse.bulk import bulk_insert
from crm_books.warehouse.sql_files import dialect, run_sql
from crm_books.warehouse.timestamps import db_timestamp, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

DOCUMENT_PREFIX = {"estimate": "EST", "invoice": "INV"}
# Below SQLite's 32,766 bound-variable limit.
_ID_CHUNK = 10_000
# db_timestamp's text form of a UTC time, applied to a whole column at once.
_SQLITE_TS = "%Y-%m-%d %H:%M:%S.%f+00:00"


def document_number(document_type: str, value: int) -> str:
    """EST-000001, INV-000042, ..."""
    return f"{DOCUMENT_PREFIX[document_type]}-{value:06d}"


def _select(conn: Connection, name: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    # The deal ids fill IN :deal_ids: one array on PostgreSQL, an expanding list on SQLite (run_sql).
    result = run_sql(conn, name, params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()), dtype=object)


def _select_by_ids(conn: Connection, name: str, ids: Sequence[str]) -> list[pd.DataFrame]:
    chunk = _ID_CHUNK if dialect(conn) == "sqlite" else max(len(ids), 1)
    return [
        _select(conn, name, {"deal_ids": list(ids[i : i + chunk])})
        for i in range(0, len(ids), chunk)
    ]


def _concat(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return empty_frame(columns)
    return pd.concat(frames, ignore_index=True).loc[:, list(columns)]


def _to_float(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series.map(lambda v: float(v) if v is not None else None), errors="coerce")


def _to_date(value: Any) -> date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def load_state(
    conn: Connection, deal_ids: Sequence[str] | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Known deals (the given ones plus every pending one), their documents, customer keys.

    ``deal_ids=None`` reads every deal and document (a full reconcile).
    """
    if deal_ids is None:
        deals = _select(conn, "workflow/select_all_deals")
        documents = _select(conn, "workflow/select_all_documents")
    else:
        ids = sorted({str(i) for i in deal_ids})
        pending = _select(conn, "workflow/select_pending_deals")
        deals = _concat(
            [pending, *_select_by_ids(conn, "workflow/select_deals", ids)], KNOWN_DEAL_COLUMNS
        ).drop_duplicates("crm_deal_id")
        wanted = sorted(set(ids) | set(pending["crm_deal_id"].astype(str)))
        documents = _concat(
            _select_by_ids(conn, "workflow/select_documents", wanted), DOCUMENT_COLUMNS
        )
    customers = _select(conn, "workflow/select_customer_keys")

    deals = _concat([deals], KNOWN_DEAL_COLUMNS)
    deals["amount"] = _to_float(deals["amount"])
    deals["closing_date"] = deals["closing_date"].map(_to_date).astype(object)
    deals["crm_modified_time"] = pd.to_datetime(
        deals["crm_modified_time"], utc=True, format="ISO8601"
    )
    deals["was_won"] = deals["was_won"].map(bool).astype(bool)
    documents = _concat([documents], DOCUMENT_COLUMNS)
    documents["total"] = _to_float(documents["total"])
    for col in ("document_id", "customer_id"):
        documents[col] = pd.to_numeric(documents[col]).astype("Int64")
    customers = _concat([customers], CUSTOMER_COLUMNS)
    for col in ("customer_id", "merged_into_customer_id"):
        customers[col] = pd.to_numeric(customers[col]).astype("Int64")
    return deals.reset_index(drop=True), documents, customers


def _column_values(series: pd.Series, sqlite: bool) -> list[Any]:
    """One frame column as DB-API values: NA -> None, pandas/numpy scalars -> Python."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        if sqlite:  # the project's one text form of a UTC time (db_timestamp)
            text_form = series.dt.tz_convert("UTC").dt.strftime(_SQLITE_TS)
            return text_form.astype(object).where(series.notna(), None).tolist()
        return [None if pd.isna(v) else v for v in series.dt.to_pydatetime().tolist()]
    values = series.astype(object)
    values = values.where(values.notna(), None).tolist()
    return [
        v.item() if hasattr(v, "item") and not isinstance(v, str | Decimal) else v for v in values
    ]


def _stage(conn: Connection, table: str, frame: pd.DataFrame, run_id: str) -> int:
    """Bulk-load one plan frame into its staging table (COPY on PostgreSQL)."""
    sqlite = dialect(conn) == "sqlite"
    columns = [_column_values(frame[c], sqlite) for c in frame.columns]
    rows = zip([run_id] * len(frame), *columns, strict=True)
    return bulk_insert(conn, table, ["run_id", *frame.columns], rows)


def apply_plan(conn: Connection, plan: Plan, *, run_id: str, workflow: str) -> dict[str, int]:
    """Write a plan inside the caller's transaction; returns counts per action for the task log.

    The plan is staged in bulk and written set-based. The caller owns the transaction
    (``with engine.begin() as conn``), so a failure anywhere leaves nothing behind, document
    numbers included.
    """
    started = utcnow()
    now: datetime | str | None = started
    if dialect(conn) == "sqlite":
        now = db_timestamp(started)
    params = {"run_id": run_id, "now": now, "workflow": workflow}
    counts: Counter[str] = Counter()

    deals = plan.deal_updates.copy()
    deals["amount"] = deals["amount"].astype("float64").round(2)
    deals["was_won"] = deals["was_won"].astype(bool)
    deals["closing_date"] = deals["closing_date"].map(_to_date).astype(object)
    deals["crm_modified_time"] = pd.to_datetime(deals["crm_modified_time"], utc=True)
    if _stage(conn, "stg_workflow_deals", deals, run_id):
        run_sql(conn, "workflow/upsert_deals", params)
    counts.update(f"deal_{state}" for state in deals["state"].astype(str))

    actions = plan.document_actions
    writes = actions.loc[actions["action"].isin(["create", "update"])].copy()
    writes["document_number"] = None
    for doc_type in DOCUMENT_PREFIX:
        creates = writes["action"].eq("create") & writes["document_type"].eq(doc_type)
        if creates.any():
            writes.loc[creates, "document_number"] = _numbers(conn, doc_type, int(creates.sum()))
    writes["total"] = writes["total"].astype("float64").fillna(0.0).round(2)
    writes["date"] = writes["date"].map(_to_date).astype(object)
    staged = writes.loc[:, list(_STAGED_DOCUMENT_COLUMNS)]
    if _stage(conn, "stg_workflow_documents", staged, run_id):
        for doc_type, names in DOCUMENT_TABLES.items():
            document_params = {**params, "document_type": doc_type}
            run_sql(conn, "workflow/write_documents", document_params, names=names)
    counts.update(actions["action"].astype(str))

    events = plan.events.copy()
    events.insert(0, "seq", range(len(events)))
    if _stage(conn, "stg_workflow_events", events, run_id):
        run_sql(conn, "workflow/insert_workflow_events", params)
    counts["events"] = len(events)

    for table in ("deals", "documents", "events"):
        run_sql(conn, f"workflow/delete_stg_workflow_{table}", {"run_id": run_id})
    counts["ignored_versions"] = plan.ignored_versions
    return dict(counts)


_STAGED_DOCUMENT_COLUMNS = (
    "action",
    "document_type",
    "document_id",
    "document_number",
    "crm_deal_id",
    "customer_id",
    "to_status",
    "total",
    "line_item",
    "date",
)


def _numbers(conn: Connection, doc_type: str, count: int) -> list[str]:
    """The next ``count`` numbers of a document type, reserved until the transaction ends."""
    run_sql(conn, "workflow/insert_document_sequence", {"document_type": doc_type})
    last = run_sql(
        conn, "workflow/allocate_document_numbers", {"document_type": doc_type, "count": count}
    ).scalar_one()
    first = int(last) - count + 1
    return [document_number(doc_type, value) for value in range(first, first + count)]
