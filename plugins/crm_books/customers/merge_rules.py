"""B6 merge rules: which merge requests are refused, and what a merge moves (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    """A duplicate_candidates row of a group that one of the merged customers is in."""

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
    found += _inactive(named, customers) + _books_native_master(request, customers)
    return found


def _inactive(named: Sequence[int], customers: Mapping[int, Customer]) -> list[Violation]:
    inactive = [customers[i] for i in named if i in customers and not customers[i].is_active]
    if not inactive:
        return []
    detail = "; ".join(
        f"{c.customer_id} is {c.status}"
        + (
            f" (already merged into {c.merged_into_customer_id})"
            if c.merged_into_customer_id is not None
            else ""
        )
        for c in inactive
    )
    return [Violation(RULE_ACTIVE, tuple(c.customer_id for c in inactive), detail)]


def _books_native_master(
    request: MergeRequest, customers: Mapping[int, Customer]
) -> list[Violation]:
    master = request.master_customer_id
    master_row = customers.get(master)
    if master_row is None or master_row.crm_link is not None:
        return []
    linked = [
        customers[i] for i in request.merge_customer_ids if i in customers and customers[i].crm_link
    ]
    if not linked:
        return []
    detail = (
        f"master {master} is Books-native but "
        + ", ".join(f"{c.customer_id} is linked to {c.crm_link}" for c in linked)
        + "; choose a CRM-linked customer as the master"
    )
    return [Violation(RULE_CRM_MASTER, (master, *(c.customer_id for c in linked)), detail)]


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
