"""customer_merge on SQLite and PostgreSQL: dry run, real merge, refusals, retries, documents views."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crm_books.customers.merge import dry_run, merge
from crm_books.customers.merge_rules import (
    RULE_ACTIVE,
    RULE_CRM_MASTER,
    RULE_EXISTS,
    RULE_MASTER_NOT_MERGED,
    RULE_NO_DUPLICATES,
    MergeRefused,
    MergeRequest,
)
from crm_books.warehouse.timestamps import db_timestamp, utcnow

NOW = db_timestamp(utcnow())


def add_customer(
    conn: Any, name: str, *, account: str | None = None, contact: str | None = None
) -> int:
    source = "crm" if (account or contact) else "books"
    return int(
        conn.execute(
            text(
                "INSERT INTO books.customers (source, crm_account_id, crm_contact_id,"
                " customer_sub_type, contact_name, status, created_at, updated_at)"
                " VALUES (:s, :a, :c, 'business', :n, 'active', :now, :now) RETURNING customer_id"
            ),
            {"s": source, "a": account, "c": contact, "n": name, "now": NOW},
        ).scalar_one()
    )


def add_person(conn: Any, customer_id: int, crm_contact_id: str, primary: bool) -> int:
    return int(
        conn.execute(
            text(
                "INSERT INTO books.contact_persons (customer_id, crm_contact_id, first_name,"
                " is_primary_contact, created_at, updated_at)"
                " VALUES (:c, :k, :k, :p, :now, :now) RETURNING contact_person_id"
            ),
            {"c": customer_id, "k": crm_contact_id, "p": primary, "now": NOW},
        ).scalar_one()
    )


def add_document(conn: Any, kind: str, number: str, customer_id: int, total: str, day: str) -> None:
    table, status = ("estimates", "sent") if kind == "estimate" else ("invoices", "paid")
    conn.execute(
        text(
            f"INSERT INTO books.{table} ({kind}_number, customer_id, status, total, date,"
            " created_at, updated_at) VALUES (:n, :c, :s, :t, :d, :now, :now)"
        ),
        {"n": number, "c": customer_id, "s": status, "t": total, "d": day, "now": NOW},
    )


def add_candidate(conn: Any, group: str, customer_id: int) -> None:
    conn.execute(
        text(
            "INSERT INTO books.duplicate_candidates (group_key, customer_id, match_reason,"
            " status, first_flagged_run_id, flagged_at) VALUES (:g, :c, 'name', 'open', 'r0', :now)"
        ),
        {"g": group, "c": customer_id, "now": NOW},
    )


@pytest.fixture
def books(warehouse: Engine) -> dict[str, int]:
    """Three duplicates of Acme (two CRM-linked, one Books-native), documents, persons, candidates."""
    with warehouse.begin() as conn:
        ids = {
            "master": add_customer(conn, "Acme Corp", account="A-100"),
            "crm_dup": add_customer(conn, "ACME Corporation", account="A-200"),
            "native": add_customer(conn, "Acme (walk-in)"),
            "other": add_customer(conn, "Initech"),
        }
        ids["p_master"] = add_person(conn, ids["master"], "C-1", True)
        ids["p_dup"] = add_person(conn, ids["crm_dup"], "C-2", True)
        ids["p_native"] = add_person(conn, ids["native"], "C-3", False)
        add_document(conn, "estimate", "EST-000001", ids["master"], "100.00", "2026-10-01")
        add_document(conn, "invoice", "INV-000001", ids["crm_dup"], "250.50", "2026-10-02")
        add_document(conn, "estimate", "EST-000002", ids["crm_dup"], "75.25", "2026-10-03")
        add_document(conn, "invoice", "INV-000002", ids["native"], "12.00", "2026-10-04")
        add_document(conn, "invoice", "INV-000003", ids["other"], "9.99", "2026-10-05")
        for key in ("master", "crm_dup", "native"):
            add_candidate(conn, "name:acme", ids[key])
        add_candidate(conn, "phone:5550100", ids["native"])
        add_candidate(conn, "phone:5550100", ids["other"])
    return ids


def state(engine: Engine) -> list[Any]:
    """Every table a merge may touch, for before/after comparisons."""
    tables = {
        "customers": "customer_id",
        "contact_persons": "contact_person_id",
        "estimates": "estimate_id",
        "invoices": "invoice_id",
        "duplicate_candidates": "candidate_id",
        "merges": "merge_id",
    }
    with engine.connect() as conn:
        return [
            [tuple(r) for r in conn.execute(text(f"SELECT * FROM books.{t} ORDER BY {k}"))]
            for t, k in tables.items()
        ]


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def test_dry_run_then_merge_of_three_duplicates(warehouse: Engine, books: dict[str, int]) -> None:
    request = MergeRequest(books["master"], (books["crm_dup"], books["native"]))
    before = state(warehouse)

    preview = dry_run(warehouse, request)
    assert state(warehouse) == before  # a dry run changes nothing
    assert preview.dry_run and preview.merge_id is None
    assert preview.moved["estimates"] == {"count": 1, "ids": ["EST-000002"]}
    assert preview.moved["invoices"] == {"count": 2, "ids": ["INV-000001", "INV-000002"]}
    assert preview.moved["contact_persons"]["ids"] == [books["p_dup"], books["p_native"]]

    done = merge(warehouse, request, run_id="manual__1", merged_by="alice")
    assert done.moved == preview.moved  # the dry run reported exactly what happened

    holders = dict(
        rows(warehouse, "SELECT estimate_number, customer_id FROM books.estimates")
        + rows(warehouse, "SELECT invoice_number, customer_id FROM books.invoices")
    )
    m = books["master"]
    assert holders == {
        "EST-000001": m, "EST-000002": m, "INV-000001": m, "INV-000002": m,
        "INV-000003": books["other"],
    }  # fmt: skip
    persons = rows(
        warehouse,
        "SELECT crm_contact_id, customer_id, is_primary_contact FROM books.contact_persons"
        " ORDER BY crm_contact_id",
    )
    # All on the master, which keeps its own primary contact and only that one.
    assert [(k, c, bool(p)) for k, c, p in persons] == [
        ("C-1", m, True), ("C-2", m, False), ("C-3", m, False),
    ]  # fmt: skip
    customers = rows(
        warehouse,
        "SELECT customer_id, status, merged_into_customer_id FROM books.customers"
        " ORDER BY customer_id",
    )
    assert customers == [
        (m, "active", None),
        (books["crm_dup"], "inactive", m),
        (books["native"], "inactive", m),
        (books["other"], "active", None),
    ]
    record = rows(
        warehouse,
        "SELECT master_customer_id, merged_customer_ids, moved, run_id, merged_by FROM books.merges",
    )
    assert len(record) == 1
    master, merged_ids, moved, run_id, merged_by = record[0]
    assert (master, json.loads(merged_ids), run_id, merged_by) == (
        m, [books["crm_dup"], books["native"]], "manual__1", "alice",
    )  # fmt: skip
    assert json.loads(moved) == preview.moved
    # The name group is settled (only the master is active); the phone group too (only Initech).
    candidates = rows(
        warehouse,
        "SELECT group_key, customer_id, status, closed_at IS NOT NULL"
        " FROM books.duplicate_candidates ORDER BY candidate_id",
    )
    assert {(g, s, bool(c)) for g, _, s, c in candidates} == {
        ("name:acme", "merged", True),
        ("phone:5550100", "merged", True),
    }
    assert preview.moved["duplicate_candidates_closed"]["count"] == 5


def test_a_group_with_two_customers_left_stays_open(
    warehouse: Engine, books: dict[str, int]
) -> None:
    merge(warehouse, MergeRequest(books["master"], (books["crm_dup"],)), run_id="r1")
    statuses = rows(
        warehouse,
        "SELECT customer_id, status FROM books.duplicate_candidates WHERE group_key = 'name:acme'"
        " ORDER BY customer_id",
    )
    # Acme Corp and the walk-in are both still active: still a candidate pair.
    assert statuses == [
        (books["master"], "open"), (books["crm_dup"], "merged"), (books["native"], "open"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("build", "rule", "named"),
    [
        (lambda b: MergeRequest(b["native"], (b["crm_dup"],)), RULE_CRM_MASTER, ("native", "crm_dup")),
        (lambda b: MergeRequest(b["master"], (b["master"], b["native"])), RULE_MASTER_NOT_MERGED, ("master",)),
        (lambda b: MergeRequest(b["master"], (b["native"], b["native"])), RULE_NO_DUPLICATES, ("native",)),
        (lambda b: MergeRequest(b["master"], (b["native"], 999_999)), RULE_EXISTS, ()),
        (lambda b: MergeRequest(b["master"], ()), "at least one customer to merge", ("master",)),
    ],
)  # fmt: skip
def test_each_rule_refuses_and_changes_nothing(
    warehouse: Engine, books: dict[str, int], build: Any, rule: str, named: tuple[str, ...]
) -> None:
    before = state(warehouse)
    request = build(books)
    for attempt in (
        lambda: dry_run(warehouse, request),
        lambda: merge(warehouse, request, run_id="r"),
    ):
        with pytest.raises(MergeRefused) as refused:
            attempt()
        message = str(refused.value)
        assert rule in message and "nothing changed" in message
        assert str([books[n] for n in named] or [999_999])[1:-1] in message
    assert state(warehouse) == before


def test_retry_of_a_committed_run_is_a_no_op_and_a_new_run_is_refused(
    warehouse: Engine, books: dict[str, int]
) -> None:
    request = MergeRequest(books["master"], (books["crm_dup"], books["native"]))
    first = merge(warehouse, request, run_id="manual__once")
    after = state(warehouse)

    again = merge(warehouse, request, run_id="manual__once")  # Airflow retried the task
    assert (again.merge_id, again.moved) == (first.merge_id, first.moved)
    assert state(warehouse) == after

    with pytest.raises(MergeRefused) as refused:
        merge(warehouse, request, run_id="manual__twice")
    assert RULE_ACTIVE in str(refused.value)
    assert f"already merged into {books['master']}" in str(refused.value)
    assert state(warehouse) == after


def test_merging_a_master_moves_its_earlier_merges_along(
    warehouse: Engine, books: dict[str, int]
) -> None:
    merge(warehouse, MergeRequest(books["crm_dup"], (books["native"],)), run_id="r1")
    merge(warehouse, MergeRequest(books["master"], (books["crm_dup"],)), run_id="r2")
    pointers = dict(
        rows(warehouse, "SELECT customer_id, merged_into_customer_id FROM books.customers")
    )
    assert pointers[books["native"]] == books["master"]  # one hop to the current master
    assert pointers[books["crm_dup"]] == books["master"]
    # The documents view shows the walk-in's invoice under both CRM accounts now.
    assert ("INV-000002",) in rows(
        warehouse,
        "SELECT document_number FROM books.crm_account_documents WHERE crm_account_id = 'A-200'",
    )


def test_documents_view_before_and_after_the_merge(
    warehouse: Engine, books: dict[str, int]
) -> None:
    def listed(crm_id: str) -> list[Any]:
        found = rows(
            warehouse,
            "SELECT document_type, document_number, status, total, date, customer_id"
            " FROM books.crm_account_documents WHERE crm_account_id = :i"
            " ORDER BY document_number",
            i=crm_id,
        )
        return [(t, n, s, f"{float(v):.2f}", str(d)[:10], c) for t, n, s, v, d, c in found]

    m, dup = books["master"], books["crm_dup"]
    assert listed("A-100") == [("estimate", "EST-000001", "sent", "100.00", "2026-10-01", m)]
    assert listed("A-200") == [
        ("estimate", "EST-000002", "sent", "75.25", "2026-10-03", dup),
        ("invoice", "INV-000001", "paid", "250.50", "2026-10-02", dup),
    ]
    merge(warehouse, MergeRequest(m, (dup, books["native"])), run_id="r1")
    everything = [
        ("estimate", "EST-000001", "sent", "100.00", "2026-10-01", m),
        ("estimate", "EST-000002", "sent", "75.25", "2026-10-03", m),
        ("invoice", "INV-000001", "paid", "250.50", "2026-10-02", m),
        ("invoice", "INV-000002", "paid", "12.00", "2026-10-04", m),
    ]
    assert listed("A-100") == everything  # the master lists what moved in
    assert listed("A-200") == everything  # the merged-away CRM account now maps to the master
    # A contact person's CRM id lists its customer's documents, moved ones included.
    assert [
        r[0]
        for r in rows(
            warehouse,
            "SELECT document_number FROM books.crm_contact_documents WHERE crm_contact_id = 'C-3'"
            " ORDER BY document_number",
        )
    ] == ["EST-000001", "EST-000002", "INV-000001", "INV-000002"]


def test_master_without_contacts_ends_with_exactly_one_primary(warehouse: Engine) -> None:
    with warehouse.begin() as conn:
        master = add_customer(conn, "Globex", account="A-1")
        first = add_customer(conn, "Globex Inc")
        second = add_customer(conn, "Globex Ltd")
        add_person(conn, first, "C-10", True)
        add_person(conn, second, "C-20", True)
        add_person(conn, second, "C-21", False)
    merge(warehouse, MergeRequest(master, (first, second)), run_id="r1")
    persons = rows(
        warehouse,
        "SELECT crm_contact_id, customer_id, is_primary_contact FROM books.contact_persons"
        " ORDER BY crm_contact_id",
    )
    assert [(k, c, bool(p)) for k, c, p in persons] == [
        ("C-10", master, True), ("C-20", master, False), ("C-21", master, False),
    ]  # fmt: skip
