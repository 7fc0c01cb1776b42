"""Potential workflow against a real warehouse (SQLite and PostgreSQL): load, plan, apply."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from crm_books.deals.changes import deal_changes_frame
from crm_books.deals.rules import Plan, plan_transitions
from crm_books.deals.store import apply_plan, load_state
from crm_books.warehouse.timestamps import utcnow

TODAY = date(2026, 3, 1)


def record(
    deal_id: str,
    *,
    stage: str = "Qualification",
    amount: float | None = 100.0,
    account: str | None = "A1",
    minute: int = 0,
    name: str = "Deal",
) -> dict[str, Any]:
    return {
        "id": deal_id,
        "Deal_Name": f"{name} {deal_id}",
        "Amount": amount,
        "Stage": stage,
        "Account_Name": {"id": account, "name": "Acme"} if account else None,
        "Contact_Name": None,
        "Closing_Date": None,
        "Modified_Time": f"2026-01-01T{10 + minute // 60:02d}:{minute % 60:02d}:00+01:00",
    }


def add_customer(engine: Engine, account: str) -> int:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO books.customers (crm_account_id, customer_sub_type, contact_name,"
                " created_at, updated_at) VALUES (:a, 'business', :a, :now, :now)"
            ),
            {"a": account, "now": utcnow()},
        )
        return int(
            conn.execute(
                text("SELECT customer_id FROM books.customers WHERE crm_account_id = :a"),
                {"a": account},
            ).scalar_one()
        )


def plan_for(conn: Connection, records: list[dict[str, Any]], workflow: str) -> Plan:
    changes = deal_changes_frame(records)
    known, documents, customers = load_state(conn, changes["crm_deal_id"].tolist())
    return plan_transitions(changes, known, documents, customers, workflow=workflow, today=TODAY)


def reconcile(
    engine: Engine, records: list[dict[str, Any]], workflow: str = "estimate", run_id: str = "r1"
) -> dict[str, int]:
    with engine.begin() as conn:
        plan = plan_for(conn, records, workflow)
        return apply_plan(conn, plan, run_id=run_id, workflow=workflow)


def rows(engine: Engine, sql: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql))]


def snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    return {
        table: rows(engine, f"SELECT * FROM books.{table} ORDER BY 1")
        for table in ("deals", "estimates", "invoices", "workflow_events", "document_sequences")
    }


def test_apply_creates_documents_and_a_rerun_changes_nothing(warehouse: Engine) -> None:
    customer = add_customer(warehouse, "A1")
    batch = [
        record("D1"),
        record("D2", stage="Closed Won", amount=None),
        record("D3", account="A9"),
    ]
    counts = reconcile(warehouse, batch)
    assert counts["create"] == 2 and counts["deal_pending"] == 1

    estimates = rows(
        warehouse,
        "SELECT estimate_number, customer_id, crm_deal_id, status, workflow_status, total, date,"
        " line_item FROM books.estimates ORDER BY crm_deal_id",
    )
    assert [(e["estimate_number"], e["crm_deal_id"], e["status"]) for e in estimates] == [
        ("EST-000001", "D1", "draft"),
        ("EST-000002", "D2", "accepted"),
    ]
    assert {e["customer_id"] for e in estimates} == {customer}
    assert [float(e["total"]) for e in estimates] == [100.0, 0.0]
    assert str(estimates[0]["date"]) == "2026-03-01"
    assert estimates[1]["line_item"] == "Deal D2"
    events = rows(
        warehouse,
        "SELECT crm_deal_id, document_id, action, from_status, to_status, run_id"
        " FROM books.workflow_events ORDER BY event_id",
    )
    assert [(e["crm_deal_id"], e["action"], e["to_status"]) for e in events] == [
        ("D3", "pending", None),
        ("D1", "create", "draft"),
        ("D2", "create", "draft"),
        ("D2", "update_status", "accepted"),
    ]
    assert {e["run_id"] for e in events} == {"r1"}
    assert all(e["document_id"] is not None for e in events if e["action"] != "pending")
    deal = rows(warehouse, "SELECT * FROM books.deals WHERE crm_deal_id = 'D1'")[0]
    assert deal["state"] == "processed"
    assert str(deal["crm_modified_time"]).startswith("2026-01-01 09:00:00")

    before = snapshot(warehouse)
    again = reconcile(warehouse, batch, run_id="r2")
    assert again.get("create", 0) == 0 and again["events"] == 0
    assert snapshot(warehouse) == before


def test_rerun_with_cents_and_closing_date_round_trips_unchanged(warehouse: Engine) -> None:
    add_customer(warehouse, "A1")
    batch = [{**record("D1", amount=80.456), "Closing_Date": "2026-06-30"}]
    reconcile(warehouse, batch)
    estimate = rows(warehouse, "SELECT total, date FROM books.estimates")[0]
    assert (float(estimate["total"]), str(estimate["date"])) == (80.46, "2026-06-30")
    before = snapshot(warehouse)
    assert reconcile(warehouse, batch, run_id="r2")["ignored_versions"] == 1
    assert snapshot(warehouse) == before


def test_paid_invoice_stays_paid_when_the_deal_is_lost(warehouse: Engine) -> None:
    add_customer(warehouse, "A1")
    reconcile(warehouse, [record("D1", stage="Closed Won")], workflow="invoice")
    with warehouse.begin() as conn:
        conn.execute(text("UPDATE books.invoices SET status = 'paid' WHERE crm_deal_id = 'D1'"))
    reconcile(warehouse, [record("D1", stage="Closed Lost", minute=1)], "invoice", run_id="r2")

    invoice = rows(warehouse, "SELECT status, workflow_status, total FROM books.invoices")[0]
    assert (invoice["status"], invoice["workflow_status"]) == ("paid", "draft")
    skips = rows(
        warehouse,
        "SELECT run_id, from_status, to_status, reason FROM books.workflow_events"
        " WHERE action = 'skip_locked'",
    )
    assert len(skips) == 1
    assert (skips[0]["run_id"], skips[0]["from_status"], skips[0]["to_status"]) == (
        "r2",
        "paid",
        "void",
    )
    assert "'paid'" in skips[0]["reason"]


def test_won_then_lost_voids_the_invoice(warehouse: Engine) -> None:
    add_customer(warehouse, "A1")
    reconcile(warehouse, [record("D1", stage="Closed Won")], workflow="invoice")
    reconcile(warehouse, [record("D1", stage="Closed Lost", minute=1)], "invoice", run_id="r2")
    invoice = rows(warehouse, "SELECT invoice_number, status, workflow_status FROM books.invoices")
    assert invoice == [
        {"invoice_number": "INV-000001", "status": "void", "workflow_status": "void"}
    ]


def test_pending_deal_is_processed_once_its_customer_arrives(warehouse: Engine) -> None:
    reconcile(warehouse, [record("D1", account="A7", stage="Closed Won")])
    assert rows(warehouse, "SELECT state, pending_reason FROM books.deals") == [
        {"state": "pending", "pending_reason": "no active Books customer for CRM account A7"}
    ]
    customer = add_customer(warehouse, "A7")
    counts = reconcile(warehouse, [], run_id="r2")  # no CRM change: retried from books.deals
    assert counts["create"] == 1
    estimate = rows(warehouse, "SELECT customer_id, status FROM books.estimates")
    assert estimate == [{"customer_id": customer, "status": "accepted"}]
    assert rows(warehouse, "SELECT state FROM books.deals") == [{"state": "processed"}]


def test_numbers_are_sequential_per_type_across_runs(warehouse: Engine) -> None:
    add_customer(warehouse, "A1")
    reconcile(warehouse, [record(f"D{i}") for i in range(1, 4)])
    reconcile(warehouse, [record("D4")], run_id="r2")
    reconcile(warehouse, [record("D5", stage="Closed Won")], workflow="invoice", run_id="r3")
    reconcile(warehouse, [record("D1", stage="Closed Won", minute=1)], "invoice", run_id="r4")
    numbers = rows(warehouse, "SELECT estimate_number FROM books.estimates ORDER BY 1")
    assert [n["estimate_number"] for n in numbers] == [f"EST-00000{i}" for i in range(1, 5)]
    invoices = rows(warehouse, "SELECT invoice_number, crm_deal_id FROM books.invoices ORDER BY 1")
    assert invoices == [
        {"invoice_number": "INV-000001", "crm_deal_id": "D5"},
        {"invoice_number": "INV-000002", "crm_deal_id": "D1"},
    ]


def test_a_failure_mid_apply_leaves_nothing(warehouse: Engine) -> None:
    add_customer(warehouse, "A1")
    reconcile(warehouse, [record("D1")])
    before = snapshot(warehouse)
    with warehouse.begin() as conn:
        plan = plan_for(
            conn, [record("D2"), record("D1", stage="Closed Won", minute=1)], "estimate"
        )
    # A customer deleted between planning and applying: the insert fails after the deal upsert,
    # the update of D1 and the number allocation have already run.
    plan.document_actions.loc[plan.document_actions["action"] == "create", "customer_id"] = 999
    with pytest.raises(IntegrityError), warehouse.begin() as conn:
        apply_plan(conn, plan, run_id="r2", workflow="estimate")
    assert snapshot(warehouse) == before


def test_a_person_editing_between_plan_and_apply_wins(warehouse: Engine) -> None:
    add_customer(warehouse, "A1")
    reconcile(warehouse, [record("D1")])
    with warehouse.begin() as conn:
        plan = plan_for(conn, [record("D1", stage="Closed Won", minute=1)], "estimate")
        conn.execute(text("UPDATE books.estimates SET status = 'sent'"))
        apply_plan(conn, plan, run_id="r2", workflow="estimate")
    assert rows(warehouse, "SELECT status FROM books.estimates") == [{"status": "sent"}]


def test_older_version_is_not_written_over_a_newer_one(warehouse: Engine) -> None:
    add_customer(warehouse, "A1")
    reconcile(warehouse, [record("D1", stage="Closed Won", minute=30)])
    reconcile(warehouse, [record("D1", stage="Qualification", amount=1.0, minute=10)], run_id="r2")
    assert rows(warehouse, "SELECT stage, amount FROM books.deals")[0]["stage"] == "Closed Won"
    assert float(rows(warehouse, "SELECT total FROM books.estimates")[0]["total"]) == 100.0


def test_deleted_deal_keeps_documents_and_is_audited(warehouse: Engine) -> None:
    add_customer(warehouse, "A1")
    reconcile(warehouse, [record("D1", stage="Closed Won")], workflow="invoice")
    gone = {"id": "D1", "deleted_time": "2026-01-02T00:00:00+00:00", "type": "recycle"}
    reconcile(warehouse, [gone], workflow="invoice", run_id="r2")
    assert rows(warehouse, "SELECT state, deal_name FROM books.deals") == [
        {"state": "deleted", "deal_name": "Deal D1"}
    ]
    assert rows(warehouse, "SELECT status FROM books.invoices") == [{"status": "draft"}]
    assert rows(warehouse, "SELECT action FROM books.workflow_events WHERE run_id = 'r2'") == [
        {"action": "deal_deleted"}
    ]


def test_switching_the_setting_leaves_the_other_documents(warehouse: Engine) -> None:
    add_customer(warehouse, "A1")
    reconcile(warehouse, [record("D1")], workflow="estimate")
    reconcile(warehouse, [record("D1", stage="Closed Won", minute=1)], "invoice", run_id="r2")
    reconcile(warehouse, [record("D1", stage="Closed Lost", minute=2)], "off", run_id="r3")
    assert rows(warehouse, "SELECT status FROM books.estimates") == [{"status": "draft"}]
    assert rows(warehouse, "SELECT status FROM books.invoices") == [{"status": "draft"}]
    assert rows(warehouse, "SELECT stage FROM books.deals") == [{"stage": "Closed Lost"}]
    events = rows(warehouse, "SELECT run_id, workflow, action FROM books.workflow_events")
    assert events == [
        {"run_id": "r1", "workflow": "estimate", "action": "create"},
        {"run_id": "r2", "workflow": "invoice", "action": "create"},
    ]


def test_full_reconcile_reads_every_deal_and_document(warehouse: Engine) -> None:
    add_customer(warehouse, "A1")
    reconcile(warehouse, [record("D1"), record("D2", account="A5")])
    with warehouse.connect() as conn:
        known, documents, customers = load_state(conn, None)
        some, some_docs, _ = load_state(conn, ["D1"])
    assert sorted(known["crm_deal_id"]) == ["D1", "D2"]
    assert documents["crm_deal_id"].tolist() == ["D1"]
    assert customers["crm_account_id"].tolist() == ["A1"]
    # Asking for D1 also brings the pending D2: pending deals are retried every run.
    assert sorted(some["crm_deal_id"]) == ["D1", "D2"]
    assert some_docs["document_type"].tolist() == ["estimate"]
    assert known.loc[known["crm_deal_id"] == "D1", "crm_modified_time"].iloc[0] == pd.Timestamp(
        "2026-01-01T09:00:00Z"
    )


def test_many_deal_changes_are_planned_and_applied_in_one_run(warehouse: Engine) -> None:
    """Every deal new, half already won, some without a Books customer: a document, two audit
    rows and a deal row each, or a pending deal. (Speed at scale is measured by `make bench`.)"""
    deals, accounts = 2_000, 100
    with warehouse.begin() as conn:
        now = utcnow()
        conn.execute(
            text(
                "INSERT INTO books.customers (crm_account_id, customer_sub_type, contact_name,"
                " created_at, updated_at) VALUES (:a, 'business', :a, :now, :now)"
            ),
            [{"a": f"A{i}", "now": now} for i in range(accounts)],
        )
    # One account in eleven has no customer, so its deals wait.
    records = [
        record(f"D{i}", stage=("Closed Won", "Qualification")[i % 2], account=f"A{i % 110}")
        for i in range(deals)
    ]
    counts = reconcile(warehouse, records)
    assert counts["create"] + counts["deal_pending"] == deals
    assert counts["deal_pending"] == sum(1 for i in range(deals) if i % 110 >= accounts)
    check = pd.DataFrame(rows(warehouse, "SELECT COUNT(*) AS n FROM books.estimates"))
    assert int(check["n"].iloc[0]) == counts["create"]
    accepted = rows(
        warehouse, "SELECT COUNT(*) AS n FROM books.estimates WHERE status = 'accepted'"
    )
    assert int(accepted[0]["n"]) == sum(
        1 for i in range(deals) if i % 2 == 0 and i % 110 < accounts
    )
    # Applying the same changes again writes nothing new.
    before = snapshot(warehouse)
    again = reconcile(warehouse, records, run_id="r2")
    assert again.get("create", 0) == 0 and snapshot(warehouse) == before
