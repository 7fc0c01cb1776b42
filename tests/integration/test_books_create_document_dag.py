"""books_create_document end to end on both backends: documents by hand, checked before anything is
written, numbered in the workflow's sequence, audited, and left alone by potential_reconcile."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.dag_runs import RunOutcome, run_dag
from tests.integration import test_potential_reconcile_dag as reconcile_story
from tests.integration.test_potential_reconcile_dag import (
    add_customer,
    assert_reconciled,
    crm_change,
    deal,
    estimates,
    execute,
    query,
    reconcile,
)

pytestmark = pytest.mark.slow

# The reconcile stories' fixture: the sandbox, a migrated warehouse, the estimate workflow and a
# sensor that gives up after seconds.
env = reconcile_story.env

DAG_ID = "books_create_document"
T0 = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
_run_times = itertools.count()


def create(**conf: Any) -> RunOutcome:
    """One run of books_create_document, every Param given (params can linger on a cached DAG)."""
    full = {"document_type": "estimate", "document_date": None, **conf}
    return run_dag(DAG_ID, T0 + timedelta(minutes=next(_run_times)), full)


def manual_documents(uri: str) -> list[tuple[Any, ...]]:
    rows = query(
        uri,
        "SELECT estimate_number, customer_id, status, total, line_item, date, updated_at"
        " FROM books.estimates WHERE crm_deal_id IS NULL"
        " UNION ALL SELECT invoice_number, customer_id, status, total, line_item, date, updated_at"
        " FROM books.invoices WHERE crm_deal_id IS NULL ORDER BY 1",
    )
    return [(r[0], r[1], r[2], float(r[3]), r[4], str(r[5]), str(r[6])) for r in rows]


def manual_events(uri: str) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in query(
            uri,
            "SELECT run_id, document_type, action, to_status, reason FROM books.workflow_events"
            " WHERE workflow = 'manual' ORDER BY event_id",
        )
    ]


def test_documents_by_hand_are_numbered_audited_and_left_alone_by_the_workflow(
    env: Any, warehouse_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = env
    acme = add_customer(warehouse_uri, account="A1")
    grace = add_customer(warehouse_uri, contact="C9")
    d1 = crm_change(sb, "Deals", deal("Acme renewal", amount=1200))
    assert_reconciled(reconcile())  # EST-000001 from the workflow

    # 1. An estimate by hand for a CRM account: the next number of the workflow's sequence.
    est = create(crm_record_id="A1", line_item="Onsite training", amount=1250.5)
    assert est.state == "success", est.task_states
    assert est.task_states == {"check_document": "success", "create_document": "success"}
    run_day = T0.date().isoformat()  # no date given: the day of the run
    assert [d[:6] for d in manual_documents(warehouse_uri)] == [
        ("EST-000002", acme, "draft", 1250.5, "Onsite training", run_day)
    ]
    # 2. An invoice by hand for a CRM contact, dated as asked.
    inv = create(
        document_type="invoice",
        crm_record_id=" C9 ",
        line_item="Workshop",
        amount=80,
        document_date="2026-10-31",
    )
    assert inv.state == "success", inv.task_states
    (event_est, event_inv) = manual_events(warehouse_uri)
    assert event_est[:4] == (est.run_id, "estimate", "create", "draft")
    assert "by hand" in event_est[4] and "CRM record A1" in event_est[4]
    assert event_inv[:4] == (inv.run_id, "invoice", "create", "draft")
    made = manual_documents(warehouse_uri)
    assert [d[:6] for d in made] == [
        ("EST-000002", acme, "draft", 1250.5, "Onsite training", run_day),
        ("INV-000001", grace, "draft", 80.0, "Workshop", "2026-10-31"),
    ]

    # 3. Refused before anything is written: each names the fix.
    for conf, reason in (
        ({"crm_record_id": "NOPE", "line_item": "x", "amount": 5}, "not in Books"),
        ({"crm_record_id": "A1", "line_item": "x", "amount": 10.005}, "more than 2 decimals"),
    ):
        refused = create(**conf)
        assert refused.state == "failed", (conf, reason)
        assert refused.task_states == {
            "check_document": "failed",
            "create_document": "upstream_failed",
        }
        assert refused.tries["check_document"] == 1  # failed at once, no retries
    assert manual_documents(warehouse_uri) == made
    assert len(manual_events(warehouse_uri)) == 2

    # 4. The workflow goes on around them: the deal is won, a new deal comes, the setting
    # switches to invoices and a won deal is then lost. Documents made by hand never change.
    crm_change(sb, "Deals", {"id": d1["id"], "Stage": "Closed Won", "Amount": 1300})
    d2 = crm_change(sb, "Deals", deal("Acme upsell", amount=99))
    assert_reconciled(reconcile())
    assert [(e[0], e[1], e[3], e[4]) for e in estimates(warehouse_uri)] == [
        ("EST-000001", d1["id"], "accepted", 1300.0),
        ("EST-000002", None, "draft", 1250.5),
        ("EST-000003", d2["id"], "draft", 99.0),
    ]
    monkeypatch.setenv("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW", "invoice")
    d3 = crm_change(sb, "Deals", deal("Grace won", account=None, contact="C9", stage="Closed Won"))
    assert_reconciled(reconcile())
    crm_change(sb, "Deals", {"id": d3["id"], "Stage": "Closed Lost"})
    assert_reconciled(reconcile())
    assert query(warehouse_uri, "SELECT invoice_number, status FROM books.invoices ORDER BY 1") == [
        ("INV-000001", "draft"),
        ("INV-000002", "void"),
    ]
    assert manual_documents(warehouse_uri) == made
    assert len(manual_events(warehouse_uri)) == 2


def test_a_retried_create_returns_the_document_it_made(env: Any, warehouse_uri: str) -> None:
    from crm_books.airflow_tasks.documents import create_document_task

    add_customer(warehouse_uri, account="A7")
    first = create(crm_record_id="A7", line_item="Licence", amount=10)
    assert first.state == "success", first.task_states
    params = {"document_type": "estimate", "crm_record_id": "A7", "line_item": "Licence"}
    again = create_document_task(
        {"run_id": first.run_id, "logical_date": T0, "params": {**params, "amount": 10}}  # type: ignore[typeddict-unknown-key]
    )
    assert again == {
        "document_type": "estimate",
        "document_id": again["document_id"],
        "document_number": "EST-000001",
        "customer_id": again["customer_id"],
        "created": False,
    }
    assert query(warehouse_uri, "SELECT COUNT(*) FROM books.estimates")[0][0] == 1


def test_a_merged_away_customer_gets_no_document(env: Any, warehouse_uri: str) -> None:
    master = add_customer(warehouse_uri, account="M1")
    merged = add_customer(warehouse_uri, account="M2")
    execute(
        warehouse_uri,
        "UPDATE books.customers SET status = 'inactive', merged_into_customer_id = :m"
        " WHERE customer_id = :c",
        m=master,
        c=merged,
    )
    refused = create(crm_record_id="M2", line_item="x", amount=5)
    assert refused.task_states["check_document"] == "failed"
    assert query(warehouse_uri, "SELECT COUNT(*) FROM books.estimates")[0][0] == 0
