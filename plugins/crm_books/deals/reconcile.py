"""potential_reconcile's steps: check the CRM for work, extract -> plan -> apply."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from crm_books import config
from crm_books.deals.rules import (
    DEFAULT_STAGES,
    StageMapping,
)
from crm_books.incremental import DEFAULT_OVERLAP, read_from
from crm_books.warehouse.engine import locked_transaction
from crm_books.warehouse.migrations import migrate
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.timestamps import as_utc, db_timestamp, utcnow
from crm_books.zoho.paging import parse_zoho_time

if TYPE_CHECKING:
    from airflow.sdk import Context
    from sqlalchemy import Connection, Engine

    from crm_books.zoho.client import ZohoCrmClient
    from crm_books.zoho.paging import Page
from crm_books.deals.settings import read_settings

log = logging.getLogger(__name__)


# books.sync_state row holding the reconciled Deals high-water marks.
STATE_MODULE = config.DEALS


# Pages of the deleted-Deals listing one poke reads at most.
CHECK_MAX_PAGES = 5


# The sensor only needs ids and times; the client adds id and Modified_Time to any field list.
_CHECK_FIELDS = ("Modified_Time",)


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


def _advance_marks(conn: Connection, marks: DealMarks, run_id: str) -> None:
    now = db_timestamp(utcnow())
    if marks.modified is not None:
        run_sql(
            conn,
            "sync/advance_high_water_mark",
            {
                "module": STATE_MODULE,
                "high_water_mark": db_timestamp(marks.modified),
                "run_id": run_id,
                "now": now,
            },
        )
    if marks.deleted is not None:
        run_sql(
            conn,
            "sync/advance_deleted_high_water_mark",
            {
                "module": STATE_MODULE,
                "deleted_high_water_mark": db_timestamp(marks.deleted),
                "run_id": run_id,
                "now": now,
            },
        )


@dataclass(frozen=True)
class WorkCheck:
    """What the sensor found: reasons to run a reconcile now."""

    changed_deals: int = 0
    deleted_deals: int = 0
    arrived_customers: int = 0

    @property
    def ready(self) -> bool:
        return bool(self.changed_deals or self.deleted_deals or self.arrived_customers)

    def describe(self) -> str:
        return (
            f"{self.changed_deals} changed deal(s), {self.deleted_deals} deleted deal(s), "
            f"{self.arrived_customers} pending deal(s) whose customer arrived"
        )


def _deal_versions(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[datetime | None, str]]:
    if not ids:
        return {}
    rows = run_sql(conn, "workflow/select_deal_versions", {"deal_ids": list(ids)}).all()
    return {str(r.crm_deal_id): (as_utc(r.crm_modified_time), str(r.state)) for r in rows}


def unseen_versions(page: Page, known: dict[str, tuple[datetime | None, str]]) -> int:
    """Records of a page newer than what the warehouse recorded for them (or never recorded)."""
    count = 0
    for record in page:
        raw = record.get("Modified_Time")
        seen = known.get(str(record.get("id")))
        if seen is None or seen[0] is None or not raw or parse_zoho_time(str(raw)) > seen[0]:
            count += 1
    return count


def unapplied_deletions(page: Page, known: dict[str, tuple[datetime | None, str]]) -> int:
    """Deletions of deals the warehouse knows and has not marked deleted yet."""
    return sum(
        1 for item in page if (seen := known.get(str(item.get("id")))) and seen[1] != "deleted"
    )


def check_for_work(
    engine: Engine, client: ZohoCrmClient, *, max_pages: int = CHECK_MAX_PAGES
) -> WorkCheck:
    """One poke: pending deals whose customer landed (SQL), then Deals changed or deleted since
    the reconciled marks (If-Modified-Since; 304/204 mean nothing). Stops at the first news."""
    migrate(engine)
    with engine.connect() as conn:
        arrived = int(run_sql(conn, "workflow/count_arrived_pending_deals").scalar_one())
        marks = read_marks(conn)
    if arrived:
        return WorkCheck(arrived_customers=arrived)

    # If-Modified-Since is inclusive: deals at exactly the mark are news only if unrecorded.
    # Pages come oldest first, so the first page past the deals at the mark has news and ends it.
    pages = client.iter_pages(config.DEALS, _CHECK_FIELDS, modified_since=marks.modified)
    for page in pages:
        with engine.connect() as conn:
            changed = unseen_versions(page, _deal_versions(conn, [str(r["id"]) for r in page]))
        if changed:
            return WorkCheck(changed_deals=changed)

    # Deletions come newest first: past max_pages only old ones remain (all of them before a
    # first reconcile has set the deleted mark), and the reconcile reads those anyway.
    deleted = 0
    deletions = client.iter_deleted(config.DEALS, deleted_since=marks.deleted)
    for number, page in enumerate(deletions, start=1):
        with engine.connect() as conn:
            deleted = unapplied_deletions(page, _deal_versions(conn, [str(r["id"]) for r in page]))
        if deleted or number >= max_pages:
            break
    return WorkCheck(deleted_deals=deleted)


@dataclass(frozen=True)
class ReconcileRun:
    """What one run of potential_reconcile is asked to do."""

    run_id: str
    workflow: str
    today: date
    stages: StageMapping = DEFAULT_STAGES
    interval_start: datetime | None = None
    overlap: timedelta = DEFAULT_OVERLAP


@dataclass
class DealExtract:
    """Deal versions and deletion entries read from the CRM (one changes frame) and the marks
    they reach."""

    changes: pd.DataFrame
    read: int
    deletions_read: int
    marks: DealMarks
    read_from: datetime | None
    deleted_from: datetime | None


def _frame(pages: Iterable[Page]) -> pd.DataFrame:
    """Pages -> one changes frame, normalised page by page so raw records are not all held."""
    from crm_books.deals.rules import deal_changes_frame

    frames = [deal_changes_frame(page) for page in pages if page]
    if not frames:
        return deal_changes_frame([])
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _latest(times: pd.Series) -> datetime | None:
    latest = pd.to_datetime(times, utc=True).max()
    return None if pd.isna(latest) else latest.to_pydatetime()


def extract_deals(client: ZohoCrmClient, run: ReconcileRun, marks: DealMarks) -> DealExtract:
    """Deals modified and deleted since the marks (bounded by the interval start, with overlap)."""
    since = read_from(run.interval_start, marks.modified, run.overlap)
    deleted_since = read_from(run.interval_start, marks.deleted, run.overlap)
    fields = config.MODULE_FIELDS[config.DEALS]
    records = _frame(client.iter_pages(config.DEALS, fields, modified_since=since))
    deletions = _frame(client.iter_deleted(config.DEALS, deleted_since=deleted_since))
    reached = DealMarks(
        _latest(records["crm_modified_time"]), _latest(deletions["crm_modified_time"])
    )
    frames = [f for f in (records, deletions) if not f.empty]
    changes = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames or [records])[0]
    return DealExtract(changes, len(records), len(deletions), reached, since, deleted_since)


def reconcile_deals(engine: Engine, client: ZohoCrmClient, run: ReconcileRun) -> dict[str, Any]:
    """Extract changed and deleted Deals, plan, and apply the plan with its audit rows and the
    advanced Deals marks in one transaction. Returns the counts the task log summarises."""
    from crm_books.deals.rules import plan_transitions
    from crm_books.deals.store import apply_plan, load_state

    started = time.monotonic()
    migrate(engine)
    with engine.connect() as conn:
        marks = read_marks(conn)
    if run.workflow == "off":
        log.info(
            "workflow is off: deals are recorded, no estimate or invoice is created or changed"
        )
    extract = extract_deals(client, run, marks)
    log.info(
        "read %d deal versions modified since %s and %d deletions since %s",
        extract.read,
        extract.read_from or "the beginning",
        extract.deletions_read,
        extract.deleted_from or "the beginning",
    )
    changes = extract.changes
    # The warehouse lock: documents are planned against customers that a sync's deletions or a
    # merge would otherwise change underneath.
    with locked_transaction(engine, "reconcile_deals") as conn:
        known, documents, customers = load_state(conn, changes["crm_deal_id"].tolist())
        # A deal deleted before this warehouse ever saw it has no documents to leave alone.
        unseen = changes["deleted"] & ~changes["crm_deal_id"].isin(known["crm_deal_id"])
        changes = changes.loc[~unseen]
        plan = plan_transitions(
            changes,
            known,
            documents,
            customers,
            workflow=run.workflow,
            stages=run.stages,
            today=run.today,
        )
        applied = apply_plan(conn, plan, run_id=run.run_id, workflow=run.workflow)
        _advance_marks(conn, extract.marks, run.run_id)
    counts: dict[str, Any] = {
        "workflow": run.workflow,
        "read": extract.read,
        "deletions_read": extract.deletions_read,
        "unseen_deletions": int(unseen.sum()),
        "pending": plan.counts.get("pending", 0),
        **{k: int(v) for k, v in applied.items()},
        "high_water_mark": extract.marks.modified.isoformat() if extract.marks.modified else None,
    }
    log.info(
        "potential_reconcile %s (workflow %s): read %d deals and %d deletions; created %d, "
        "updated %d, skipped %d locked, left %d, %d pending, %d deleted, %d unchanged versions; "
        "%d audit events; high-water mark %s; %.1f s",
        run.run_id,
        run.workflow,
        counts["read"],
        counts["deletions_read"],
        counts.get("create", 0),
        counts.get("update", 0),
        counts.get("skip_locked", 0),
        counts.get("leave", 0),
        counts["pending"],
        counts.get("deal_deleted", 0),
        counts.get("ignored_versions", 0),
        counts.get("events", 0),
        counts["high_water_mark"] or marks.modified,
        time.monotonic() - started,
    )
    return counts


def reconcile_run(context: Context) -> ReconcileRun:
    """The run's identity, data interval, document date and settings (Variables)."""
    workflow, stages = read_settings()
    when = context.get("logical_date") or context.get("data_interval_end") or utcnow()
    return ReconcileRun(
        run_id=str(context["run_id"]),
        workflow=workflow,
        stages=stages,
        today=when.date(),
        interval_start=context.get("data_interval_start"),
    )
