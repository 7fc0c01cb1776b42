"""Warehouse edge of the Potential workflow: read the current state, apply a plan in one transaction."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import bindparam, text

from crm_books import warehouse
from crm_books.potential_workflow import (
    CUSTOMER_COLUMNS,
    DOCUMENT_COLUMNS,
    KNOWN_DEAL_COLUMNS,
    Plan,
    empty_frame,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection

DOCUMENT_PREFIX = {"estimate": "EST", "invoice": "INV"}
# Below SQLite's 32,766 bound-variable limit, and small enough for PostgreSQL's planner.
_ID_CHUNK = 10_000


def document_number(document_type: str, value: int) -> str:
    """EST-000001, INV-000042, ..."""
    return f"{DOCUMENT_PREFIX[document_type]}-{value:06d}"


def _select(conn: Connection, name: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    statement = text(warehouse.sql(name, warehouse.dialect(conn)))
    if params and "deal_ids" in params:
        statement = statement.bindparams(bindparam("deal_ids", expanding=True))
    result = conn.execute(statement, params or {})
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()), dtype=object)


def _select_by_ids(conn: Connection, name: str, ids: Sequence[str]) -> list[pd.DataFrame]:
    return [
        _select(conn, name, {"deal_ids": list(ids[i : i + _ID_CHUNK])})
        for i in range(0, len(ids), _ID_CHUNK)
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


def _plain(value: Any) -> Any:
    """A frame cell as a DB-API parameter: NA -> None, numpy/pandas scalars -> Python."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str | Decimal):
        return value.item()
    return value


def _rows(frame: pd.DataFrame, **extra: Any) -> list[dict[str, Any]]:
    columns = list(frame.columns)
    return [
        {**{c: _plain(v) for c, v in zip(columns, row, strict=True)}, **extra}
        for row in frame.itertuples(index=False, name=None)
    ]


def _money(value: Any) -> float:
    # Floats bind on both drivers; NUMERIC(18, 2) columns keep the cents exact.
    return round(float(value or 0), 2)


def apply_plan(conn: Connection, plan: Plan, *, run_id: str, workflow: str) -> dict[str, int]:
    """Write a plan inside the caller's transaction; returns counts per action for the task log.

    The caller owns the transaction (``with engine.begin() as conn``), so a failure anywhere
    leaves nothing behind, document numbers included.
    """
    now = warehouse.utcnow()
    counts: Counter[str] = Counter()

    deals = _rows(plan.deal_updates, updated_at=now)
    for row in deals:
        row["amount"] = None if row["amount"] is None else _money(row["amount"])
        row["was_won"] = bool(row["was_won"])
        row["closing_date"] = _to_date(row["closing_date"])
    if deals:
        warehouse.run_sql(conn, "workflow/upsert_deals", deals)
        counts.update(f"deal_{row['state']}" for row in deals)

    actions = plan.document_actions
    for doc_type in sorted(DOCUMENT_PREFIX):
        of_type = actions.loc[actions["document_type"].astype(object).eq(doc_type)]
        creates = _rows(of_type.loc[of_type["action"].eq("create")], now=now)
        if creates:
            _number(conn, doc_type, creates)
            for row in creates:
                row["total"] = _money(row["total"])
                row["date"] = _to_date(row["date"])
            warehouse.run_sql(conn, f"workflow/insert_{doc_type}s", creates)
        updates = _rows(of_type.loc[of_type["action"].eq("update")], now=now)
        for row in updates:
            row["total"] = _money(row["total"])
        if updates:
            warehouse.run_sql(conn, f"workflow/update_{doc_type}s", updates)
    counts.update(actions["action"].astype(str))

    events = _rows(plan.events, run_id=run_id, workflow=workflow, now=now)
    if events:
        warehouse.run_sql(conn, "workflow/insert_workflow_events", events)
    counts["events"] = len(events)
    counts["ignored_versions"] = plan.ignored_versions
    return dict(counts)


def _number(conn: Connection, doc_type: str, creates: list[dict[str, Any]]) -> None:
    """Give each new document the next number of its type, in plan order."""
    warehouse.run_sql(conn, "workflow/insert_document_sequence", {"document_type": doc_type})
    last = warehouse.run_sql(
        conn,
        "workflow/allocate_document_numbers",
        {"document_type": doc_type, "count": len(creates)},
    ).scalar_one()
    first = int(last) - len(creates) + 1
    for offset, row in enumerate(creates):
        row["document_number"] = document_number(doc_type, first + offset)
