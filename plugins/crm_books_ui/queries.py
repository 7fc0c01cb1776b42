"""Read-only queries behind the "CRM -> Books" page of the Airflow UI (SQL in include/sql/ui)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from crm_books.customers.merge import _customer as merge_customer
from crm_books.customers.merge_rules import Customer, MergeRequest
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.timestamps import as_utc
from crm_books_ui.rows import from_row

RAW_PAYLOAD_PREVIEW = 200


@dataclass(frozen=True)
class SyncRun:
    """One module's share of a sync run, as books.sync_runs records it; ``run_kind`` is how the
    run was started (scheduled, manual or backfill, from Airflow's run id)."""

    run_kind: str
    run_id: str
    module: str
    status: str
    counts: dict[str, int]
    message: str | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class TrendPoint:
    """Customers created on one UTC day, and the running total up to that day."""

    day: date
    created: int
    total: int


@dataclass(frozen=True)
class DuplicateCustomer:
    """A customer of a duplicate group: what the merge rules know of it, and how to reach it."""

    customer: Customer
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class DuplicateGroup:
    """Customers flagged as likely the same; the CRM-linked one is proposed as the master (B6)."""

    group_key: str
    match_reason: str
    flagged_at: datetime | None
    customers: tuple[DuplicateCustomer, ...]
    proposal: MergeRequest


@dataclass(frozen=True)
class LockedDocument:
    """An estimate or invoice whose status a person changed, so the workflow leaves it alone."""

    document_type: str
    document_number: str
    customer_id: int
    contact_name: str
    crm_deal_id: str | None
    status: str
    workflow_status: str
    total: Decimal
    date: str


@dataclass(frozen=True)
class PendingDeal:
    crm_deal_id: str
    deal_name: str | None
    amount: Decimal | None
    stage: str | None
    crm_account_id: str | None
    crm_contact_id: str | None
    pending_reason: str | None
    updated_at: datetime | None


@dataclass(frozen=True)
class RejectedRecord:
    rejected_id: int
    run_id: str
    module: str
    crm_id: str | None
    reason: str
    raw_payload: str
    rejected_at: datetime | None


@dataclass(frozen=True)
class RunPoint:
    """One module's run on the run chart."""

    run_id: str
    module: str
    status: str
    extracted: int
    written: int
    rejected: int
    started_at: datetime | None


@dataclass(frozen=True)
class QualityRow:
    """One expectation the quality gate ran on one frame of a run's chunk."""

    run_id: str
    module: str
    chunk: str
    frame: str
    expectation: str
    column: str | None
    rows_checked: int
    failed_rows: int
    success: bool
    error: str | None


@dataclass(frozen=True)
class LastSuccess:
    """When a module last synced successfully, and by which run."""

    module: str
    finished_at: datetime | None
    run_id: str | None


@dataclass(frozen=True)
class Dashboard:
    """Everything the page shows, read in one go from the warehouse."""

    customers_total: int
    customers_active: int
    customers_books_native: int
    sync_runs: tuple[SyncRun, ...]
    trend: tuple[TrendPoint, ...]
    duplicate_groups: tuple[DuplicateGroup, ...]
    locked_documents: tuple[LockedDocument, ...]
    pending_deals: tuple[PendingDeal, ...]
    rejected_records: tuple[RejectedRecord, ...]
    totals: dict[str, int] = field(default_factory=dict)
    # Customers from CRM accounts and from individual CRM contacts, and contact persons, apart.
    people: dict[str, int] = field(default_factory=dict)
    run_points: tuple[RunPoint, ...] = ()
    last_successes: tuple[LastSuccess, ...] = ()
    quality: tuple[QualityRow, ...] = ()


SYNC_COUNT_COLUMNS = (
    "extracted",
    "inserted",
    "updated",
    "unchanged",
    "deleted",
    "inactivated",
    "flagged",
    "rejected",
    "held",
    "api_calls",
    "api_credits",
    "bulk_jobs",
)


PEOPLE_COLUMNS = ("from_accounts", "from_contacts", "contact_persons")


def load_dashboard(
    engine: Engine, *, runs_per_module: int = 5, limit: int = 50, chart_runs: int = 60
) -> Dashboard:
    """Read every section of the page; ``limit`` caps each list (totals are counted in full)."""
    with engine.connect() as conn:
        customers = _one(conn, "ui/count_customers")
        totals = {k: int(v or 0) for k, v in _one(conn, "ui/count_page_sections").items()}
        return Dashboard(
            customers_total=int(customers["total"] or 0),
            customers_active=int(customers["active"] or 0),
            customers_books_native=int(customers["books_native"] or 0),
            sync_runs=tuple(
                sync_run(r)
                for r in _rows(conn, "ui/select_last_sync_runs", {"per_module": runs_per_module})
            ),
            trend=tuple(cumulative_trend(_rows(conn, "ui/select_customer_trend"))),
            duplicate_groups=tuple(
                group_duplicates(_rows(conn, "ui/select_open_duplicates", {"limit": limit}))
            ),
            locked_documents=tuple(
                locked_document(r)
                for r in _rows(conn, "ui/select_locked_documents", {"limit": limit})
            ),
            pending_deals=tuple(
                pending_deal(r) for r in _rows(conn, "ui/select_pending_deals", {"limit": limit})
            ),
            rejected_records=tuple(
                rejected_record(r)
                for r in _rows(conn, "ui/select_rejected_records", {"limit": limit})
            ),
            totals=totals,
            people={k: int(customers.get(k) or 0) for k in PEOPLE_COLUMNS},
            run_points=tuple(
                run_point(r) for r in _rows(conn, "ui/select_run_chart", {"limit": chart_runs})
            ),
            last_successes=tuple(
                LastSuccess(str(r["module"]), as_utc(r["finished_at"]), r["run_id"])
                for r in _rows(conn, "ui/select_last_successful_syncs")
            ),
            quality=tuple(
                quality_row(r)
                for r in _rows(conn, "ui/select_quality_results", {"runs": 3, "limit": 4 * limit})
            ),
        )


def _rows(
    conn: Connection, name: str, params: dict[str, Any] | None = None
) -> list[Mapping[str, Any]]:
    return [dict(r._mapping) for r in run_sql(conn, name, params)]


def _one(conn: Connection, name: str) -> Mapping[str, Any]:
    rows = _rows(conn, name)
    return rows[0] if rows else {}


def sync_run(row: Mapping[str, Any]) -> SyncRun:
    return from_row(SyncRun, row, counts={c: int(row[c] or 0) for c in SYNC_COUNT_COLUMNS})


def run_point(row: Mapping[str, Any]) -> RunPoint:
    return RunPoint(
        run_id=str(row["run_id"]),
        module=str(row["module"]),
        status=str(row["status"]),
        extracted=int(row["extracted"] or 0),
        written=int(row["inserted"] or 0) + int(row["updated"] or 0),
        rejected=int(row["rejected"] or 0),
        started_at=as_utc(row["started_at"]),
    )


def quality_row(row: Mapping[str, Any]) -> QualityRow:
    chunk = f"{row['chunk_after'] or '(start)'} .. {row['chunk_until'] or '(end)'}"
    return from_row(QualityRow, row, chunk=chunk, column=row["column_name"])


def cumulative_trend(rows: Iterable[Mapping[str, Any]]) -> list[TrendPoint]:
    """Per-day creation counts (any order) as a running total, one point per day with data."""
    per_day: dict[date, int] = {}
    for row in rows:
        day = date.fromisoformat(str(row["day"])[:10])
        per_day[day] = per_day.get(day, 0) + int(row["created"])
    points: list[TrendPoint] = []
    total = 0
    for day in sorted(per_day):
        total += per_day[day]
        points.append(TrendPoint(day=day, created=per_day[day], total=total))
    return points


def choose_master(customers: Sequence[DuplicateCustomer]) -> DuplicateCustomer:
    """The CRM-linked customer must be the master (B6); among equals, the oldest id."""
    return min(customers, key=lambda c: (c.customer.crm_link is None, c.customer.customer_id))


def group_duplicates(rows: Iterable[Mapping[str, Any]]) -> list[DuplicateGroup]:
    """Candidate rows (one per customer in a group) folded into groups with a proposed master."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row["group_key"]), []).append(row)
    result: list[DuplicateGroup] = []
    for key, members in groups.items():
        customers = tuple(
            DuplicateCustomer(customer=merge_customer(m), email=m["email"], phone=m["phone"])
            for m in sorted(members, key=lambda m: int(m["customer_id"]))
        )
        master = choose_master(customers).customer.customer_id
        others = tuple(
            c.customer.customer_id for c in customers if c.customer.customer_id != master
        )
        flagged = [t for t in (as_utc(m["flagged_at"]) for m in members) if t is not None]
        result.append(
            DuplicateGroup(
                group_key=key,
                match_reason=", ".join(sorted({str(m["match_reason"]) for m in members})),
                flagged_at=max(flagged) if flagged else None,
                customers=customers,
                proposal=MergeRequest(master_customer_id=master, merge_customer_ids=others),
            )
        )
    return result


def locked_document(row: Mapping[str, Any]) -> LockedDocument:
    return from_row(LockedDocument, row, date=str(row["date"])[:10])


def pending_deal(row: Mapping[str, Any]) -> PendingDeal:
    return from_row(PendingDeal, row)


def payload_preview(raw: str, limit: int = RAW_PAYLOAD_PREVIEW) -> str:
    """A compact one-line view of a raw CRM payload, cut to ``limit`` characters."""
    try:
        text = json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        text = " ".join(raw.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rejected_record(row: Mapping[str, Any]) -> RejectedRecord:
    return from_row(RejectedRecord, row, raw_payload=payload_preview(str(row["raw_payload"])))
