"""B6: fold duplicate customers into a CRM-linked master, in one warehouse transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from crm_books.config import DOCUMENT_TABLES
from crm_books.customers.merge_rules import (
    CandidateRow,
    Customer,
    MergePlan,
    MergeRefused,
    MergeRequest,
    MergeState,
    plan_merge,
)
from crm_books.json_text import XcomRecord
from crm_books.warehouse.engine import locked_transaction
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.timestamps import as_utc, db_timestamp, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergeReport(XcomRecord):
    """What a merge did (or, for a dry run, would do)."""

    dry_run: bool
    master_customer_id: int
    merged_customer_ids: tuple[int, ...]
    moved: dict[str, Any]
    run_id: str | None = None
    merge_id: int | None = None
    merged_by: str | None = None
    merged_at: str | None = None

    def summary(self) -> str:
        verb = "would move" if self.dry_run else "moved"
        m = self.moved
        head = "DRY RUN, nothing changed: " if self.dry_run else f"merge {self.merge_id}: "
        return (
            f"{head}customers {list(self.merged_customer_ids)} into master "
            f"{self.master_customer_id}; {verb} {m['estimates']['count']} estimate(s) "
            f"{m['estimates']['ids']}, {m['invoices']['count']} invoice(s) {m['invoices']['ids']}, "
            f"{m['contact_persons']['count']} contact person(s) {m['contact_persons']['ids']}; "
            f"{m['duplicate_candidates_closed']['count']} duplicate candidate(s) closed "
            f"{m['duplicate_candidates_closed']['ids']}; customers earlier folded into them "
            f"now point at the master: {m['repointed_customers']['ids']}"
        )


def load_state(conn: Connection, request: MergeRequest) -> MergeState:
    """Read (and on PostgreSQL lock, in id order) the customers named and what hangs off them."""
    customers: dict[int, Customer] = {}
    for cid in sorted(set(request.all_ids)):
        row = run_sql(conn, "merge/select_customer", {"customer_id": cid}).mappings().first()
        if row is not None:
            customers[cid] = _customer(row)
    state = MergeState(customers=customers)
    candidates: dict[int, CandidateRow] = {}
    for cid in dict.fromkeys(request.merge_customer_ids):
        if cid in customers:
            _read_attached(conn, cid, state, candidates)
    state.candidates = [candidates[k] for k in sorted(candidates)]
    return state


def _customer(row: Mapping[str, Any]) -> Customer:
    merged_into = row["merged_into_customer_id"]
    return Customer(
        customer_id=int(row["customer_id"]),
        source=str(row["source"]),
        crm_account_id=row["crm_account_id"],
        crm_contact_id=row["crm_contact_id"],
        contact_name=str(row["contact_name"]),
        status=str(row["status"]),
        merged_into_customer_id=None if merged_into is None else int(merged_into),
    )


def _read_attached(
    conn: Connection, cid: int, state: MergeState, candidates: dict[int, CandidateRow]
) -> None:
    """A merged customer's documents, contact persons, folded customers and candidate groups."""
    param = {"customer_id": cid}
    state.documents[cid] = [
        (str(r.document_type), int(r.document_id), str(r.document_number))
        for r in run_sql(conn, "merge/select_customer_documents", param)
    ]
    state.contact_persons[cid] = [
        int(r.contact_person_id)
        for r in run_sql(conn, "merge/select_customer_contact_persons", param)
    ]
    state.folded_into[cid] = [
        int(r.customer_id) for r in run_sql(conn, "merge/select_customers_merged_into", param)
    ]
    for r in run_sql(conn, "merge/select_candidate_groups", param):
        candidates[int(r.candidate_id)] = CandidateRow(
            candidate_id=int(r.candidate_id),
            group_key=str(r.group_key),
            customer_id=int(r.customer_id),
            status=str(r.status),
            customer_active=bool(r.customer_active),
        )


def dry_run(engine: Engine, request: MergeRequest) -> MergeReport:
    """What merge() would do now, computed the same way; the transaction is rolled back."""
    with engine.connect() as conn:
        try:
            plan = plan_merge(request, load_state(conn, request))
        finally:
            conn.rollback()
    report = MergeReport(
        dry_run=True,
        master_customer_id=plan.master_customer_id,
        merged_customer_ids=plan.merged_customer_ids,
        moved=plan.moved(),
    )
    log.info("%s", report.summary())
    return report


def _recorded(conn: Connection, run_id: str, request: MergeRequest) -> MergeReport | None:
    """The merge this run already committed (a retry after the commit), or None."""
    row = run_sql(conn, "merge/select_run_merge", {"run_id": run_id}).mappings().first()
    if row is None:
        return None
    merged_ids = tuple(int(i) for i in json.loads(row["merged_customer_ids"]))
    if (int(row["master_customer_id"]), merged_ids) != (
        request.master_customer_id,
        request.merge_customer_ids,
    ):
        raise MergeRefused(
            f"run {run_id} already recorded merge {row['merge_id']} of {list(merged_ids)} into "
            f"{row['master_customer_id']}; a run merges once"
        )
    merged_at = as_utc(row["merged_at"])
    return MergeReport(
        dry_run=False,
        master_customer_id=int(row["master_customer_id"]),
        merged_customer_ids=merged_ids,
        moved=json.loads(row["moved"]),
        run_id=run_id,
        merge_id=int(row["merge_id"]),
        merged_by=row["merged_by"],
        merged_at=merged_at.isoformat() if merged_at else None,
    )


def _apply(conn: Connection, plan: MergePlan, now: str) -> None:
    """Write the plan; a count that differs from the plan aborts the transaction."""
    moved = {"estimates": 0, "invoices": 0, "contact_persons": 0, "repointed": 0}
    for cid in plan.merged_customer_ids:
        params = {"customer_id": cid, "master_customer_id": plan.master_customer_id, "now": now}
        for doc_type, names in DOCUMENT_TABLES.items():
            moved[f"{doc_type}s"] += run_sql(conn, "merge/move_documents", params, names).rowcount
        moved["contact_persons"] += run_sql(conn, "merge/move_contact_persons", params).rowcount
        moved["repointed"] += run_sql(conn, "merge/repoint_merged_customers", params).rowcount
        if run_sql(conn, "merge/inactivate_merged_customer", params).rowcount != 1:
            raise RuntimeError(f"customer {cid} changed during the merge; nothing was merged")
    expected = {
        "estimates": len(plan.estimates),
        "invoices": len(plan.invoices),
        "contact_persons": len(plan.contact_person_ids),
        "repointed": len(plan.repointed_customer_ids),
    }
    if moved != expected:
        raise RuntimeError(f"merge moved {moved}, planned {expected}; nothing was merged")
    if plan.closed_candidate_ids:
        run_sql(
            conn,
            "merge/close_candidate",
            [{"candidate_id": c, "now": now} for c in plan.closed_candidate_ids],
        )


def merge(
    engine: Engine, request: MergeRequest, *, run_id: str, merged_by: str | None = None
) -> MergeReport:
    """Fold the customers into the master in one transaction and record it.

    Running the same run again after it committed returns the recorded merge and changes nothing;
    another run naming the merged customers is refused (they are no longer active).
    """
    # The warehouse lock: a sync loading or deleting meanwhile would see the customers half-merged.
    with locked_transaction(engine, "merge_customers") as conn:
        done = _recorded(conn, run_id, request)
        if done is not None:
            log.info("run %s already merged these customers: %s", run_id, done.summary())
            return done
        plan = plan_merge(request, load_state(conn, request))
        merged_at = utcnow()
        now = db_timestamp(merged_at)
        _apply(conn, plan, str(now))
        moved = plan.moved()
        merge_id = run_sql(
            conn,
            "merge/insert_merge",
            {
                "master_customer_id": plan.master_customer_id,
                "merged_customer_ids": json.dumps(list(plan.merged_customer_ids)),
                "moved": json.dumps(moved, sort_keys=True),
                "run_id": run_id,
                "merged_by": merged_by,
                "merged_at": now,
            },
        ).scalar_one()
    report = MergeReport(
        dry_run=False,
        master_customer_id=plan.master_customer_id,
        merged_customer_ids=plan.merged_customer_ids,
        moved=moved,
        run_id=run_id,
        merge_id=int(merge_id),
        merged_by=merged_by,
        merged_at=merged_at.isoformat(),
    )
    log.info("%s", report.summary())
    return report
