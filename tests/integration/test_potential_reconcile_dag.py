"""potential_reconcile end to end: the real DAG, the sandbox CRM over HTTP, SQLite and PostgreSQL.

Each test tells one story of issue 5 and checks what a Books user would see after every run.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from crm_books.warehouse import create_warehouse_engine, migrate, utcnow
from tests.dag_runs import RunOutcome, _dagbag, run_dag

pytestmark = pytest.mark.slow

DAG_ID = "potential_reconcile"
SENSOR = "wait_for_deal_changes"
RECONCILE = "reconcile_deals"
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a scheduled interval start


@pytest.fixture
def env(airflow_env: Any, warehouse_uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The sandbox CRM, a migrated warehouse, the estimate workflow, and a sensor that gives up
    after a few seconds (instead of 14 minutes) so a quiet run can be watched end to end."""
    monkeypatch.setenv("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW", "estimate")
    monkeypatch.delenv("AIRFLOW_VAR_BOOKS_POTENTIAL_STAGES", raising=False)
    sensor = _dagbag().get_dag(DAG_ID).get_task(SENSOR)
    monkeypatch.setattr(sensor, "poke_interval", 0.5)
    monkeypatch.setattr(sensor, "timeout", 2.0)
    engine = create_warehouse_engine(warehouse_uri)
    migrate(engine)
    engine.dispose()
    yield airflow_env


_run_times = itertools.count()


def reconcile() -> RunOutcome:
    """One run of the DAG at the next 15-minute interval; every test gets fresh logical dates."""
    return run_dag(DAG_ID, T0 + timedelta(minutes=15 * next(_run_times)))


def assert_reconciled(outcome: RunOutcome) -> None:
    assert outcome.state == "success", outcome.task_states
    assert outcome.task_states == {SENSOR: "success", RECONCILE: "success"}


def assert_quiet(outcome: RunOutcome) -> None:
    """Nothing to do: the sensor timed out softly and the run is skipped, not failed."""
    assert outcome.state == "success", outcome.task_states
    assert outcome.task_states == {SENSOR: "skipped", RECONCILE: "skipped"}


def query(uri: str, sql: str, **params: Any) -> list[Any]:
    engine = create_warehouse_engine(uri)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def execute(uri: str, sql: str, **params: Any) -> None:
    engine = create_warehouse_engine(uri)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def add_customer(uri: str, *, account: str | None = None, contact: str | None = None) -> int:
    """A CRM-linked Books customer, as crm_books_sync would have loaded it."""
    execute(
        uri,
        "INSERT INTO books.customers (crm_account_id, crm_contact_id, customer_sub_type,"
        " contact_name, created_at, updated_at) VALUES (:a, :c, :kind, :name, :now, :now)",
        a=account,
        c=contact,
        kind="business" if account else "individual",
        name=account or contact,
        now=utcnow(),
    )
    key, value = ("crm_account_id", account) if account else ("crm_contact_id", contact)
    return int(
        query(uri, f"SELECT customer_id FROM books.customers WHERE {key} = :v", v=value)[0][0]
    )


def deal(
    name: str,
    stage: str = "Qualification",
    amount: float = 1000.0,
    account: str | None = "A1",
    contact: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Deal_Name": name,
        "Amount": amount,
        "Stage": stage,
        "Closing_Date": "2026-11-30",
        **fields,
    }
    if account:
        record["Account_Name"] = {"id": account, "name": f"Account {account}"}
    if contact:
        record["Contact_Name"] = {"id": contact, "name": f"Contact {contact}"}
    return record


def crm_change(sb: Any, module: str, record: dict[str, Any]) -> dict[str, Any]:
    """Write to the sandbox CRM a few seconds after the previous change (server-set times)."""
    sb.advance_clock(timedelta(seconds=5))
    return dict(sb.store.upsert(module, record))


def estimates(uri: str) -> list[tuple[Any, ...]]:
    rows = query(
        uri,
        "SELECT estimate_number, crm_deal_id, customer_id, status, total, line_item, date"
        " FROM books.estimates ORDER BY estimate_number",
    )
    return [(r[0], r[1], r[2], r[3], float(r[4]), r[5], str(r[6])) for r in rows]


def invoices(uri: str) -> list[tuple[Any, ...]]:
    rows = query(
        uri,
        "SELECT invoice_number, crm_deal_id, status, total FROM books.invoices"
        " ORDER BY invoice_number",
    )
    return [(r[0], r[1], r[2], float(r[3])) for r in rows]


def events(uri: str, run_id: str) -> list[tuple[Any, ...]]:
    rows = query(
        uri,
        "SELECT crm_deal_id, action, from_status, to_status FROM books.workflow_events"
        " WHERE run_id = :r ORDER BY event_id",
        r=run_id,
    )
    return [tuple(r) for r in rows]


def test_estimate_workflow_new_won_lost_amount_change_and_quiet_rerun(
    env: Any, warehouse_uri: str
) -> None:
    sb = env
    acme = add_customer(warehouse_uri, account="A1")
    grace = add_customer(warehouse_uri, contact="C9")
    d1 = crm_change(sb, "Deals", deal("Acme renewal", amount=1200.5))
    d2 = crm_change(sb, "Deals", deal("Acme upsell", stage="Closed Won", amount=300))
    d3 = crm_change(sb, "Deals", deal("Grace training", account=None, contact="C9", amount=80))

    # 1. New deals: a draft estimate each; one created already won is accepted in the same run.
    first = reconcile()
    assert_reconciled(first)
    assert estimates(warehouse_uri) == [
        ("EST-000001", d1["id"], acme, "draft", 1200.5, "Acme renewal", "2026-11-30"),
        ("EST-000002", d2["id"], acme, "accepted", 300.0, "Acme upsell", "2026-11-30"),
        ("EST-000003", d3["id"], grace, "draft", 80.0, "Grace training", "2026-11-30"),
    ]
    assert events(warehouse_uri, first.run_id) == [
        (d1["id"], "create", None, "draft"),
        (d2["id"], "create", None, "draft"),
        (d3["id"], "create", None, "draft"),
        (d2["id"], "update_status", "draft", "accepted"),
    ]

    # 2. Won -> accepted, lost -> declined, and a new amount and name reach the owned estimate.
    crm_change(sb, "Deals", {"id": d1["id"], "Stage": "Closed Won"})
    crm_change(sb, "Deals", {"id": d3["id"], "Stage": "Closed Lost to Competition"})
    crm_change(sb, "Deals", {"id": d2["id"], "Amount": 450, "Deal_Name": "Acme upsell (3 seats)"})
    second = reconcile()
    assert_reconciled(second)
    assert [(e[0], e[3], e[4], e[5]) for e in estimates(warehouse_uri)] == [
        ("EST-000001", "accepted", 1200.5, "Acme renewal"),
        ("EST-000002", "accepted", 450.0, "Acme upsell (3 seats)"),
        ("EST-000003", "declined", 80.0, "Grace training"),
    ]
    after = estimates(warehouse_uri)

    # 3. Nothing changed since: the sensor gives up, the run is skipped and nothing is created.
    assert_quiet(reconcile())
    assert estimates(warehouse_uri) == after
    assert query(warehouse_uri, "SELECT COUNT(*) FROM books.workflow_events")[0][0] == 7
