"""Merge rules, confirmation, candidate settlement and planning, without a database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_books.customers.merge_rules import (
    RULE_ACTIVE,
    RULE_AT_LEAST_ONE,
    RULE_CRM_MASTER,
    RULE_EXISTS,
    RULE_MASTER_NOT_MERGED,
    RULE_NO_DUPLICATES,
    CandidateRow,
    Customer,
    MergeRefused,
    MergeRequest,
    MergeState,
    check_confirmation,
    check_rules,
    parse_request,
    plan_merge,
    rule_violations,
    settled_candidates,
)


def customer(
    cid: int,
    *,
    account: str | None = None,
    contact: str | None = None,
    status: str = "active",
    merged_into: int | None = None,
) -> Customer:
    return Customer(
        customer_id=cid,
        source="crm" if (account or contact) else "books",
        crm_account_id=account,
        crm_contact_id=contact,
        contact_name=f"Customer {cid}",
        status=status,
        merged_into_customer_id=merged_into,
    )


CUSTOMERS = {
    1: customer(1, account="A1"),
    2: customer(2),
    3: customer(3, contact="C3"),
    4: customer(4),
    5: customer(5, status="inactive", merged_into=1),
    6: customer(6, account="A6", status="inactive"),
}


def rules(master: int, merged: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    return {v.rule: v.ids for v in rule_violations(MergeRequest(master, merged), CUSTOMERS)}


def test_crm_master_with_books_native_and_another_crm_customer_is_allowed() -> None:
    assert rules(1, (2, 3, 4)) == {}


def test_books_native_customers_merge_into_each_other() -> None:
    assert rules(2, (4,)) == {}


def test_books_native_master_over_crm_linked_customers_is_refused() -> None:
    assert rules(2, (1, 3, 4)) == {RULE_CRM_MASTER: (2, 1, 3)}
    with pytest.raises(MergeRefused) as refused:
        check_rules(MergeRequest(2, (1, 4)), CUSTOMERS)
    message = str(refused.value)
    assert RULE_CRM_MASTER in message and "CRM account A1" in message and "[2, 1]" in message


def test_each_structural_rule_names_its_ids() -> None:
    assert rules(1, ()) == {RULE_AT_LEAST_ONE: (1,)}
    assert rules(1, (2, 2, 4)) == {RULE_NO_DUPLICATES: (2,)}
    assert rules(1, (1, 2)) == {RULE_MASTER_NOT_MERGED: (1,)}
    assert rules(1, (2, 99)) == {RULE_EXISTS: (99,)}
    assert rules(98, (2,)) == {RULE_EXISTS: (98,)}


def test_inactive_and_merged_away_customers_are_refused_as_member_or_master() -> None:
    assert rules(1, (5, 2)) == {RULE_ACTIVE: (5,)}
    assert rules(6, (2,)) == {RULE_ACTIVE: (6,)}
    with pytest.raises(MergeRefused, match="already merged into 1"):
        check_rules(MergeRequest(1, (5,)), CUSTOMERS)


def test_every_broken_rule_is_reported_at_once() -> None:
    found = rules(2, (2, 3, 3, 77))
    assert set(found) == {RULE_NO_DUPLICATES, RULE_MASTER_NOT_MERGED, RULE_EXISTS, RULE_CRM_MASTER}


@pytest.mark.parametrize(
    ("master", "merged", "message"),
    [
        (None, [2], "master_customer_id is required"),
        (True, [2], "must be an integer"),
        (1, ["two"], "must be an integer"),
        (1, None, "must be a list"),
    ],
)
def test_malformed_params_are_refused(master: object, merged: object, message: str) -> None:
    with pytest.raises(MergeRefused, match=message):
        parse_request(master, merged)


def test_params_from_a_form_become_integers() -> None:
    assert parse_request("1", ["2", 3]) == MergeRequest(1, (2, 3))
    assert parse_request(1, 4) == MergeRequest(1, (4,))


def test_a_real_merge_needs_the_confirmation_word() -> None:
    check_confirmation(True, None)
    check_confirmation(False, "MERGE")
    check_confirmation(False, " MERGE ")
    for word in (None, "", "merge", "yes"):
        with pytest.raises(MergeRefused, match="type MERGE"):
            check_confirmation(False, word)


def cand(
    cid: int, group: str, customer_id: int, *, active: bool = True, status: str = "open"
) -> CandidateRow:
    return CandidateRow(cid, group, customer_id, status, active)


def test_a_group_closes_when_at_most_one_member_stays_active() -> None:
    rows = [
        cand(10, "g1", 1),
        cand(11, "g1", 2),
        cand(12, "g1", 3),  # all merged into 1: settled
        cand(20, "g2", 2),
        cand(21, "g2", 4),
        cand(22, "g2", 8),  # 4 and 8 stay: open, 2 closes
        cand(30, "g3", 3),
        cand(31, "g3", 9, active=False),  # 9 already gone: settled
        cand(40, "g4", 2, status="dismissed"),
        cand(41, "g4", 1),  # dismissed stays dismissed
    ]
    assert settled_candidates(rows, [2, 3]) == (10, 11, 12, 20, 30, 31, 41)


@given(
    members=st.lists(
        st.tuples(
            st.sampled_from(["g1", "g2", "g3"]),
            st.integers(1, 8),
            st.booleans(),
            st.sampled_from(["open", "open", "dismissed", "merged"]),
        ),
        max_size=20,
        unique_by=lambda m: (m[0], m[1]),
    ),
    merged=st.sets(st.integers(1, 8), max_size=4),
)
def test_settlement_closes_settled_groups_and_merged_members_only(
    members: list[tuple[str, int, bool, str]], merged: set[int]
) -> None:
    rows = [cand(i, g, c, active=a, status=s) for i, (g, c, a, s) in enumerate(members)]
    closed = set(settled_candidates(rows, merged))
    for group in {r.group_key for r in rows}:
        in_group = [r for r in rows if r.group_key == group]
        active_after = {r.customer_id for r in in_group if r.customer_active} - merged
        for row in in_group:
            should_close = row.status == "open" and (
                len(active_after) <= 1 or row.customer_id in merged
            )
            assert (row.candidate_id in closed) == should_close, (row, active_after)


def test_plan_lists_what_moves_and_checks_rules_first() -> None:
    state = MergeState(
        customers=dict(CUSTOMERS),
        documents={
            2: [("invoice", 7, "INV-000007"), ("estimate", 3, "EST-000003")],
            3: [("estimate", 4, "EST-000004")],
        },
        contact_persons={2: [12], 3: []},
        folded_into={3: [44]},
        candidates=[cand(10, "g", 1), cand(11, "g", 2), cand(12, "g", 3)],
    )
    plan = plan_merge(MergeRequest(1, (2, 3)), state)
    assert plan.moved() == {
        "estimates": {"count": 2, "ids": ["EST-000003", "EST-000004"]},
        "invoices": {"count": 1, "ids": ["INV-000007"]},
        "contact_persons": {"count": 1, "ids": [12]},
        "repointed_customers": {"count": 1, "ids": [44]},
        "duplicate_candidates_closed": {"count": 3, "ids": [10, 11, 12]},
    }
    with pytest.raises(MergeRefused, match=RULE_CRM_MASTER):
        plan_merge(MergeRequest(2, (1,)), state)
