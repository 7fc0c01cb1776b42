"""B6: fold duplicate customers into a CRM-linked master."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from crm_books.warehouse.engine import locked_transaction
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.timestamps import as_utc, db_timestamp, utcnow

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


CONFIRM_WORD = "MERGE"


# Rule names, as the refusal messages and docs/merge.md spell them.
RULE_AT_LEAST_ONE = "at least one customer to merge"


RULE_NO_DUPLICATES = "no duplicate ids"


RULE_MASTER_NOT_MERGED = "the master cannot also be merged away"


RULE_EXISTS = "every customer must exist"


RULE_ACTIVE = "every customer must be active"


RULE_CRM_MASTER = "a CRM-linked customer must be the master"


class MergeRefused(ValueError):
    """The request breaks a merge rule (or lacks confirmation); nothing was changed."""


@dataclass(frozen=True)
class MergeRequest:
    """Which customers fold into which master."""

    master_customer_id: int
    merge_customer_ids: tuple[int, ...]

    @property
    def all_ids(self) -> tuple[int, ...]:
        return (self.master_customer_id, *self.merge_customer_ids)


@dataclass(frozen=True)
class Customer:
    """What the rules need to know about one customer."""

    customer_id: int
    source: str
    crm_account_id: str | None
    crm_contact_id: str | None
    contact_name: str
    status: str
    merged_into_customer_id: int | None

    @property
    def crm_link(self) -> str | None:
        if self.crm_account_id:
            return f"CRM account {self.crm_account_id}"
        if self.crm_contact_id:
            return f"CRM contact {self.crm_contact_id}"
        return None

    @property
    def is_active(self) -> bool:
        return self.status == "active" and self.merged_into_customer_id is None


@dataclass(frozen=True)
class Violation:
    """One broken rule and the ids that break it."""

    rule: str
    ids: tuple[int, ...]
    detail: str

    def message(self) -> str:
        return f"rule '{self.rule}' broken by customer id(s) {list(self.ids)}: {self.detail}"


@dataclass(frozen=True)
class CandidateRow:
    candidate_id: int
    group_key: str
    customer_id: int
    status: str
    customer_active: bool


@dataclass
class MergeState:
    """Everything a merge would touch, read inside the merge's transaction."""

    customers: dict[int, Customer]
    documents: dict[int, list[tuple[str, int, str]]] = field(default_factory=dict)
    contact_persons: dict[int, list[int]] = field(default_factory=dict)
    folded_into: dict[int, list[int]] = field(default_factory=dict)
    candidates: list[CandidateRow] = field(default_factory=list)


@dataclass(frozen=True)
class MergePlan:
    """Exactly what a merge moves and closes; a dry run reports it, a real run applies it."""

    master_customer_id: int
    merged_customer_ids: tuple[int, ...]
    estimates: tuple[str, ...]
    invoices: tuple[str, ...]
    contact_person_ids: tuple[int, ...]
    repointed_customer_ids: tuple[int, ...]
    closed_candidate_ids: tuple[int, ...]

    def moved(self) -> dict[str, Any]:
        """The merge record's `moved` JSON: counts and ids (document numbers for documents)."""

        def part(values: Sequence[Any]) -> dict[str, Any]:
            return {"count": len(values), "ids": list(values)}

        return {
            "estimates": part(self.estimates),
            "invoices": part(self.invoices),
            "contact_persons": part(self.contact_person_ids),
            "repointed_customers": part(self.repointed_customer_ids),
            "duplicate_candidates_closed": part(self.closed_candidate_ids),
        }


@dataclass(frozen=True)
class MergeReport:
    """What a merge did (or, for a dry run, would do)."""

    dry_run: bool
    master_customer_id: int
    merged_customer_ids: tuple[int, ...]
    moved: dict[str, Any]
    run_id: str | None = None
    merge_id: int | None = None
    merged_by: str | None = None
    merged_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "master_customer_id": self.master_customer_id,
            "merged_customer_ids": list(self.merged_customer_ids),
            "moved": self.moved,
            "run_id": self.run_id,
            "merge_id": self.merge_id,
            "merged_by": self.merged_by,
            "merged_at": self.merged_at,
        }

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


def _as_id(value: Any, name: str) -> int:
    # bool is an int in Python; a form that sends true for an id is a mistake, not customer 1.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MergeRefused(f"{name} must be an integer customer id, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise MergeRefused(f"{name} must be an integer customer id, got {value!r}") from None


def parse_request(master_customer_id: Any, merge_customer_ids: Any) -> MergeRequest:
    """The Params form's values as a request; malformed ids are refused, rules are checked later."""
    if master_customer_id is None:
        raise MergeRefused("master_customer_id is required")
    if isinstance(merge_customer_ids, int | str) and not isinstance(merge_customer_ids, bool):
        merge_customer_ids = [merge_customer_ids]
    if not isinstance(merge_customer_ids, Iterable):
        raise MergeRefused(f"merge_customer_ids must be a list of ids, got {merge_customer_ids!r}")
    return MergeRequest(
        master_customer_id=_as_id(master_customer_id, "master_customer_id"),
        merge_customer_ids=tuple(_as_id(v, "merge_customer_ids") for v in merge_customer_ids),
    )


def check_confirmation(dry_run: bool, confirm: str | None) -> None:
    """A real merge cannot be undone, so it needs the confirmation word."""
    if not dry_run and (confirm or "").strip() != CONFIRM_WORD:
        raise MergeRefused(
            f"dry_run is off but confirm is {confirm!r}: type {CONFIRM_WORD} in the confirm field "
            "to merge for real (merges cannot be undone), or leave dry_run on to see what would happen"
        )


def rule_violations(request: MergeRequest, customers: Mapping[int, Customer]) -> list[Violation]:
    """Every rule the request breaks, given the customers it names (missing ones absent)."""
    found: list[Violation] = []
    master = request.master_customer_id
    merged = request.merge_customer_ids
    if not merged:
        found.append(Violation(RULE_AT_LEAST_ONE, (master,), "merge_customer_ids is empty"))
    repeated = tuple(sorted({i for i in merged if merged.count(i) > 1}))
    if repeated:
        found.append(Violation(RULE_NO_DUPLICATES, repeated, "listed more than once"))
    if master in merged:
        found.append(
            Violation(RULE_MASTER_NOT_MERGED, (master,), "also listed in merge_customer_ids")
        )
    named = tuple(dict.fromkeys(request.all_ids))
    missing = tuple(i for i in named if i not in customers)
    if missing:
        found.append(Violation(RULE_EXISTS, missing, "no such customer in books.customers"))
    inactive = [customers[i] for i in named if i in customers and not customers[i].is_active]
    if inactive:
        found.append(
            Violation(
                RULE_ACTIVE,
                tuple(c.customer_id for c in inactive),
                "; ".join(
                    f"{c.customer_id} is {c.status}"
                    + (
                        f" (already merged into {c.merged_into_customer_id})"
                        if c.merged_into_customer_id is not None
                        else ""
                    )
                    for c in inactive
                ),
            )
        )
    master_row = customers.get(master)
    if master_row is not None and master_row.crm_link is None:
        linked = [customers[i] for i in merged if i in customers and customers[i].crm_link]
        if linked:
            found.append(
                Violation(
                    RULE_CRM_MASTER,
                    (master, *(c.customer_id for c in linked)),
                    f"master {master} is Books-native but "
                    + ", ".join(f"{c.customer_id} is linked to {c.crm_link}" for c in linked)
                    + "; choose a CRM-linked customer as the master",
                )
            )
    return found


def check_rules(request: MergeRequest, customers: Mapping[int, Customer]) -> None:
    """Raise MergeRefused naming every broken rule and its ids."""
    violations = rule_violations(request, customers)
    if violations:
        raise MergeRefused(
            "merge refused, nothing changed: " + " | ".join(v.message() for v in violations)
        )


def settled_candidates(
    candidates: Sequence[CandidateRow], merged_customer_ids: Iterable[int]
) -> tuple[int, ...]:
    """Open candidates the merge settles.

    A group is settled when at most one of its customers is still active after the merge; all its
    open rows close. In a group that stays open, the merged-away customers' own rows close.
    """
    merged = set(merged_customer_ids)
    active_after: dict[str, set[int]] = {}
    for row in candidates:
        members = active_after.setdefault(row.group_key, set())
        if row.customer_active and row.customer_id not in merged:
            members.add(row.customer_id)
    closed = {
        row.candidate_id
        for row in candidates
        if row.status == "open"
        and (len(active_after[row.group_key]) <= 1 or row.customer_id in merged)
    }
    return tuple(sorted(closed))


def plan_merge(request: MergeRequest, state: MergeState) -> MergePlan:
    """What the merge moves, given the state read in its transaction; rules are checked first."""
    check_rules(request, state.customers)
    merged = request.merge_customer_ids
    documents = [doc for cid in merged for doc in state.documents.get(cid, [])]
    return MergePlan(
        master_customer_id=request.master_customer_id,
        merged_customer_ids=merged,
        estimates=tuple(sorted(n for t, _, n in documents if t == "estimate")),
        invoices=tuple(sorted(n for t, _, n in documents if t == "invoice")),
        contact_person_ids=tuple(
            sorted(p for cid in merged for p in state.contact_persons.get(cid, []))
        ),
        repointed_customer_ids=tuple(
            sorted(c for cid in merged for c in state.folded_into.get(cid, []))
        ),
        closed_candidate_ids=settled_candidates(state.candidates, merged),
    )


def load_state(conn: Connection, request: MergeRequest) -> MergeState:
    """Read (and on PostgreSQL lock, in id order) the customers named and what hangs off them."""
    customers: dict[int, Customer] = {}
    for cid in sorted(set(request.all_ids)):
        row = run_sql(conn, "merge/select_customer", {"customer_id": cid}).mappings().first()
        if row is not None:
            customers[cid] = Customer(
                customer_id=int(row["customer_id"]),
                source=str(row["source"]),
                crm_account_id=row["crm_account_id"],
                crm_contact_id=row["crm_contact_id"],
                contact_name=str(row["contact_name"]),
                status=str(row["status"]),
                merged_into_customer_id=(
                    None
                    if row["merged_into_customer_id"] is None
                    else int(row["merged_into_customer_id"])
                ),
            )
    state = MergeState(customers=customers)
    candidates: dict[int, CandidateRow] = {}
    for cid in dict.fromkeys(request.merge_customer_ids):
        if cid not in customers:
            continue
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
    state.candidates = [candidates[k] for k in sorted(candidates)]
    return state


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
        moved["estimates"] += run_sql(conn, "merge/move_estimates", params).rowcount
        moved["invoices"] += run_sql(conn, "merge/move_invoices", params).rowcount
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
