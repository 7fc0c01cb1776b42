"""potential_reconcile's step: extract changed and deleted Deals, plan, apply in one transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from crm_books import config
from crm_books.deals.marks import DealMarks, advance_marks, read_marks
from crm_books.deals.rejects import RejectedDeal, file_rejects, split_unstorable
from crm_books.deals.stages import DEFAULT_STAGES, StageMapping
from crm_books.incremental import DEFAULT_OVERLAP, read_from
from crm_books.warehouse.engine import locked_transaction
from crm_books.warehouse.migrations import migrate
from crm_books.warehouse.timestamps import db_timestamp, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from crm_books.zoho.client import ZohoCrmClient
    from crm_books.zoho.paging import Page

log = logging.getLogger(__name__)


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
    """Deal versions and deletion entries read from the CRM (one changes frame), the marks they
    reach, and the versions the warehouse cannot store."""

    changes: pd.DataFrame
    read: int
    deletions_read: int
    marks: DealMarks
    read_from: datetime | None
    deleted_from: datetime | None
    rejects: list[RejectedDeal] = field(default_factory=list)


def _frame(pages: Iterable[Page]) -> tuple[pd.DataFrame, list[RejectedDeal]]:
    """Pages -> one changes frame, normalised page by page so raw records are not all held, and
    the records the warehouse cannot store."""
    from crm_books.deals.changes import deal_changes_frame

    frames: list[pd.DataFrame] = []
    rejects: list[RejectedDeal] = []
    for page in pages:
        kept, rejected = split_unstorable(page)
        rejects += rejected
        if kept:
            frames.append(deal_changes_frame(kept))
    if not frames:
        return deal_changes_frame([]), rejects
    return (pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]), rejects


def _latest(frame: pd.DataFrame, rejects: list[RejectedDeal]) -> datetime | None:
    """The newest time read, rejected versions included: a reject is filed once, not re-read."""
    times = [*frame["crm_modified_time"], *(r.crm_modified_time for r in rejects)]
    latest = pd.to_datetime(pd.Series(times, dtype=object), utc=True).max()
    return None if pd.isna(latest) else latest.to_pydatetime()


def extract_deals(client: ZohoCrmClient, run: ReconcileRun, marks: DealMarks) -> DealExtract:
    """Deals modified and deleted since the marks (bounded by the interval start, with overlap)."""
    since = read_from(run.interval_start, marks.modified, run.overlap)
    deleted_since = read_from(run.interval_start, marks.deleted, run.overlap)
    fields = config.MODULE_FIELDS[config.DEALS]
    records, bad_records = _frame(client.iter_pages(config.DEALS, fields, modified_since=since))
    deletions, bad_deletions = _frame(
        client.iter_deleted(config.DEALS, deleted_since=deleted_since)
    )
    reached = DealMarks(_latest(records, bad_records), _latest(deletions, bad_deletions))
    frames = [f for f in (records, deletions) if not f.empty]
    changes = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames or [records])[0]
    return DealExtract(
        changes,
        read=len(records) + len(bad_records),
        deletions_read=len(deletions) + len(bad_deletions),
        marks=reached,
        read_from=since,
        deleted_from=deleted_since,
        rejects=bad_records + bad_deletions,
    )


def reconcile_deals(engine: Engine, client: ZohoCrmClient, run: ReconcileRun) -> dict[str, Any]:
    """Extract changed and deleted Deals, plan, and apply the plan with its audit rows, the
    rejected versions and the advanced Deals marks in one transaction. Returns the counts the
    task log summarises."""
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
    # The warehouse lock: documents are planned against customers that a sync's deletions or a
    # merge would otherwise change underneath.
    with locked_transaction(engine, "reconcile_deals") as conn:
        counts = _plan_and_apply(conn, extract, run)
        advance_marks(conn, extract.marks, run.run_id)
    counts["high_water_mark"] = (
        extract.marks.modified.isoformat() if extract.marks.modified else None
    )
    _log_summary(run, counts, marks, time.monotonic() - started)
    return counts


def _plan_and_apply(conn: Connection, extract: DealExtract, run: ReconcileRun) -> dict[str, Any]:
    from crm_books.deals.rules import plan_transitions
    from crm_books.deals.store import apply_plan, load_state

    changes = extract.changes
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
    rejected = file_rejects(
        conn, extract.rejects, run_id=run.run_id, now=db_timestamp(utcnow()) or ""
    )
    return {
        "workflow": run.workflow,
        "read": extract.read,
        "deletions_read": extract.deletions_read,
        "unseen_deletions": int(unseen.sum()),
        "pending": plan.counts.get("pending", 0),
        "rejected": rejected,
        **{k: int(v) for k, v in applied.items()},
    }


def _log_summary(run: ReconcileRun, counts: dict[str, Any], marks: DealMarks, took: float) -> None:
    log.info(
        "potential_reconcile %s (workflow %s): read %d deals and %d deletions; created %d, "
        "updated %d, skipped %d locked, left %d, %d pending, %d deleted, %d unchanged versions, "
        "%d rejected (see books.rejected_records); %d audit events; high-water mark %s; %.1f s",
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
        counts["rejected"],
        counts.get("events", 0),
        counts["high_water_mark"] or marks.modified,
        took,
    )
