"""The sensor's question: has potential_reconcile work (changed or deleted Deals, arrived customers)?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crm_books import config
from crm_books.deals.marks import read_marks
from crm_books.warehouse.migrations import migrate
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.timestamps import as_utc
from crm_books.zoho.paging import parse_zoho_time

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from crm_books.zoho.client import ZohoCrmClient
    from crm_books.zoho.paging import Page

# Pages of the deleted-Deals listing one poke reads at most.
CHECK_MAX_PAGES = 5

# The sensor only needs ids and times; the client adds id and Modified_Time to any field list.
_CHECK_FIELDS = ("Modified_Time",)

# Per deal id: the version recorded (or filed as a reject) and the deal's state.
Versions = dict[str, tuple[datetime | None, str]]


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


def _by_ids(conn: Connection, name: str, ids: Sequence[str]) -> list[Any]:
    # run_sql fills IN :deal_ids: one array on PostgreSQL, an expanding list on SQLite.
    return list(run_sql(conn, name, {"deal_ids": list(ids)}).all())


def _deal_versions(conn: Connection, ids: Sequence[str]) -> Versions:
    if not ids:
        return {}
    rows = _by_ids(conn, "workflow/select_deal_versions", ids)
    return {str(r.crm_deal_id): (as_utc(r.crm_modified_time), str(r.state)) for r in rows}


def _seen_versions(conn: Connection, ids: Sequence[str]) -> Versions:
    """The recorded versions, moved on to the newest version filed as a reject, if newer."""
    seen = _deal_versions(conn, ids)
    for row in _by_ids(conn, "workflow/select_rejected_deal_versions", ids) if ids else []:
        rejected = as_utc(row.crm_modified_time)
        recorded, state = seen.get(str(row.crm_id), (None, "rejected"))
        if rejected is not None and (recorded is None or rejected > recorded):
            seen[str(row.crm_id)] = (rejected, state)
    return seen


def unseen_versions(page: Page, known: Versions) -> int:
    """Records of a page newer than what the warehouse recorded for them (or never recorded)."""
    count = 0
    for record in page:
        raw = record.get("Modified_Time")
        seen = known.get(str(record.get("id")))
        if seen is None or seen[0] is None or not raw or parse_zoho_time(str(raw)) > seen[0]:
            count += 1
    return count


def unapplied_deletions(page: Page, known: Versions) -> int:
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
            changed = unseen_versions(page, _seen_versions(conn, [str(r["id"]) for r in page]))
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
