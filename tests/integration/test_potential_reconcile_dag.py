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

from crm_books.warehouse.engine import create_warehouse_engine
from crm_books.warehouse.migrations import migrate
from crm_books.warehouse.timestamps import utcnow
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


def rerun_reconcile(uri: str, run_id: str) -> dict[str, Any]:
    """The reconcile_deals task body run again for a finished run, as a cleared task would."""
    from crm_books.airflow_tasks.reconcile import reconcile_task

    return reconcile_task({"run_id": run_id, "logical_date": T0, "data_interval_start": T0})


def test_dag_waits_without_a_worker_slot_and_a_quiet_period_is_skipped(airflow_db: Any) -> None:
    dag = _dagbag().get_dag(DAG_ID)
    sensor = dag.get_task(SENSOR)
    assert (sensor.mode, sensor.soft_fail) == ("reschedule", True)
    # It gives up before the next 15-minute run is due, and pokes at most once a minute.
    assert sensor.timeout < 15 * 60 and sensor.poke_interval >= 60
    assert dag.get_task(RECONCILE).upstream_task_ids == {SENSOR}
    assert dag.max_active_runs == 1 and not dag.catchup
    assert all(task.retries >= 2 for task in dag.tasks)


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

    # 4. A cleared reconcile task that re-reads every deal from scratch creates nothing new.
    execute(warehouse_uri, "DELETE FROM books.sync_state WHERE module = 'Deals'")
    counts = rerun_reconcile(warehouse_uri, second.run_id)
    assert (counts["read"], counts.get("create", 0), counts.get("update", 0)) == (3, 0, 0)
    assert estimates(warehouse_uri) == after
    assert query(warehouse_uri, "SELECT COUNT(*) FROM books.workflow_events")[0][0] == 7


def test_invoice_workflow_won_void_never_won_and_a_paid_invoice_stays_paid(
    env: Any, warehouse_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = env
    monkeypatch.setenv("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW", "invoice")
    add_customer(warehouse_uri, account="A1")
    won = crm_change(sb, "Deals", deal("Won deal", stage="Closed Won", amount=500))
    never = crm_change(sb, "Deals", deal("Never won", amount=70))
    paid = crm_change(sb, "Deals", deal("Paid deal", stage="Closed Won", amount=900))

    # 1. Won deals get a draft invoice each; an open deal gets nothing.
    assert_reconciled(reconcile())
    assert invoices(warehouse_uri) == [
        ("INV-000001", won["id"], "draft", 500.0),
        ("INV-000002", paid["id"], "draft", 900.0),
    ]
    assert estimates(warehouse_uri) == []

    # 2. A person records the payment in Books; then all three deals are lost in the CRM.
    execute(
        warehouse_uri,
        "UPDATE books.invoices SET status = 'paid' WHERE crm_deal_id = :d",
        d=paid["id"],
    )
    for record in (won, never, paid):
        crm_change(sb, "Deals", {"id": record["id"], "Stage": "Closed Lost"})
    second = reconcile()
    assert_reconciled(second)
    assert invoices(warehouse_uri) == [
        ("INV-000001", won["id"], "void", 500.0),  # won then lost
        ("INV-000002", paid["id"], "paid", 900.0),  # a person's status is never overwritten
    ]
    assert events(warehouse_uri, second.run_id) == [
        (won["id"], "update_status", "draft", "void"),
        (paid["id"], "skip_locked", "paid", "void"),
    ]
    reason = query(
        warehouse_uri,
        "SELECT reason FROM books.workflow_events WHERE action = 'skip_locked'",
    )[0][0]
    assert "set by a person" in reason


def test_pending_deal_is_processed_when_crm_books_sync_brings_its_customer(
    env: Any, warehouse_uri: str
) -> None:
    sb = env
    acme = crm_change(sb, "Accounts", {"Account_Name": "Acme Corp", "Phone": "+1 555 0100"})
    d1 = crm_change(sb, "Deals", deal("Acme pilot", account=acme["id"], amount=250))

    # 1. The account is not in Books yet: the deal waits, and says why.
    first = reconcile()
    assert_reconciled(first)
    assert estimates(warehouse_uri) == []
    state = query(warehouse_uri, "SELECT state, pending_reason FROM books.deals")
    assert [(s.state, s.pending_reason) for s in state] == [
        ("pending", f"no active Books customer for CRM account {acme['id']}")
    ]
    assert events(warehouse_uri, first.run_id) == [(d1["id"], "pending", None, None)]

    # 2. Still no customer and no CRM change: nothing to do.
    assert_quiet(reconcile())

    # 3. crm_books_sync brings the customer; the next reconcile creates the estimate.
    sb.advance_clock(timedelta(minutes=5))
    sync = run_dag("crm_books_sync", datetime(2026, 11, 2, 0, 0, tzinfo=UTC))
    assert sync.state == "success", sync.task_states
    customer = query(
        warehouse_uri,
        "SELECT customer_id FROM books.customers WHERE crm_account_id = :a",
        a=acme["id"],
    )[0][0]
    third = reconcile()
    assert_reconciled(third)
    assert estimates(warehouse_uri) == [
        ("EST-000001", d1["id"], customer, "draft", 250.0, "Acme pilot", "2026-11-30")
    ]
    assert query(warehouse_uri, "SELECT state FROM books.deals")[0][0] == "processed"
    reason = query(
        warehouse_uri, "SELECT reason FROM books.workflow_events WHERE run_id = :r", r=third.run_id
    )[0][0]
    assert reason.startswith("customer arrived")


def test_deleted_deal_leaves_its_documents_and_is_logged(env: Any, warehouse_uri: str) -> None:
    sb = env
    add_customer(warehouse_uri, account="A1")
    d1 = crm_change(sb, "Deals", deal("Doomed deal"))
    d2 = crm_change(sb, "Deals", deal("Other deal"))
    assert_reconciled(reconcile())
    before = estimates(warehouse_uri)

    sb.advance_clock(timedelta(seconds=5))
    assert sb.store.delete("Deals", d1["id"])
    second = reconcile()
    assert_reconciled(second)
    assert estimates(warehouse_uri) == before  # the estimate stays as it was
    assert events(warehouse_uri, second.run_id) == [(d1["id"], "deal_deleted", None, None)]
    states = query(warehouse_uri, "SELECT crm_deal_id, state FROM books.deals ORDER BY 1")
    assert sorted((s[0], s[1]) for s in states) == sorted(
        [(d1["id"], "deleted"), (d2["id"], "processed")]
    )
    # The deletion is applied once: the next quiet period finds nothing new.
    assert_quiet(reconcile())


def test_switching_the_setting_between_runs_and_a_custom_stage_mapping(
    env: Any, warehouse_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = env
    add_customer(warehouse_uri, account="A1")
    d1 = crm_change(sb, "Deals", deal("Switched deal", amount=100))
    assert_reconciled(reconcile())
    assert [e[3] for e in estimates(warehouse_uri)] == ["draft"]

    # invoice: the deal is won under a custom mapping; the estimate is left as it was.
    monkeypatch.setenv("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW", "invoice")
    monkeypatch.setenv("AIRFLOW_VAR_BOOKS_POTENTIAL_STAGES", '{"won": ["Signed"]}')
    crm_change(sb, "Deals", {"id": d1["id"], "Stage": "Signed"})
    assert_reconciled(reconcile())
    assert invoices(warehouse_uri) == [("INV-000001", d1["id"], "draft", 100.0)]
    assert [e[3] for e in estimates(warehouse_uri)] == ["draft"]

    # off: the deal is recorded as lost, but no document changes.
    monkeypatch.setenv("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW", "off")
    crm_change(sb, "Deals", {"id": d1["id"], "Stage": "Closed Lost", "Amount": 5})
    third = reconcile()
    assert_reconciled(third)
    assert invoices(warehouse_uri) == [("INV-000001", d1["id"], "draft", 100.0)]
    assert [e[3] for e in estimates(warehouse_uri)] == ["draft"]
    assert query(warehouse_uri, "SELECT stage FROM books.deals")[0][0] == "Closed Lost"
    assert events(warehouse_uri, third.run_id) == []


def test_unknown_setting_fails_the_run_with_the_valid_values(
    env: Any, warehouse_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_books.deals.settings import read_settings
    from crm_books.deals.stages import WorkflowSettingError

    sb = env
    add_customer(warehouse_uri, account="A1")
    crm_change(sb, "Deals", deal("Typo deal"))
    monkeypatch.setenv("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW", "estimates")

    outcome = reconcile()
    assert outcome.state == "failed"
    assert outcome.task_states == {SENSOR: "failed", RECONCILE: "upstream_failed"}
    assert query(warehouse_uri, "SELECT COUNT(*) FROM books.deals")[0][0] == 0
    with pytest.raises(
        WorkflowSettingError,
        match="books_potential_workflow is 'estimates'; set it to one of: estimate, invoice, off",
    ):
        read_settings()


@pytest.fixture
def seeded_variable(env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The workflow Variable only in Airflow's metadata DB, seeded `estimate` as `make airflow`
    seeds it; no AIRFLOW_VAR_* (it would mask the DB, issue 11 defect 7)."""
    from airflow.models.variable import Variable

    from crm_books import config
    from devtools.local_settings import Seeds, seed_metadata_db

    monkeypatch.delenv("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW")
    seeds = Seeds(connections={}, variables={config.WORKFLOW_VARIABLE: "estimate"})
    seed_metadata_db(seeds)
    yield seeds
    Variable.delete(config.WORKFLOW_VARIABLE)  # the metadata DB is shared by the session


def test_the_variable_set_in_the_metadata_db_is_what_the_next_run_uses(
    env: Any, seeded_variable: Any, warehouse_uri: str
) -> None:
    from airflow.models.variable import Variable

    from crm_books import config
    from devtools.local_settings import seed_metadata_db

    sb = env
    add_customer(warehouse_uri, account="A1")
    d1 = crm_change(sb, "Deals", deal("Seeded workflow"))
    assert_reconciled(reconcile())
    assert [e[1] for e in estimates(warehouse_uri)] == [d1["id"]]

    # Admin -> Variables (or `airflow variables set`) writes the metadata DB: the next run is off.
    Variable.set(config.WORKFLOW_VARIABLE, "off")
    d2 = crm_change(sb, "Deals", deal("After switching off"))
    assert_reconciled(reconcile())
    assert [e[1] for e in estimates(warehouse_uri)] == [d1["id"]]
    assert query(
        warehouse_uri, "SELECT deal_name FROM books.deals WHERE crm_deal_id = :d", d=d2["id"]
    )

    # A restart seeds again; the user's `off` stays, so a new deal still gets no document.
    seed_metadata_db(seeded_variable)
    assert Variable.get(config.WORKFLOW_VARIABLE) == "off"
    d3 = crm_change(sb, "Deals", deal("After a restart", stage="Closed Won"))
    assert_reconciled(reconcile())
    assert [e[1] for e in estimates(warehouse_uri)] == [d1["id"]]
    assert invoices(warehouse_uri) == []
    assert query(warehouse_uri, "SELECT stage FROM books.deals WHERE crm_deal_id = :d", d=d3["id"])


def test_a_deal_the_warehouse_cannot_store_is_quarantined_and_the_others_go_ahead(
    env: Any, warehouse_uri: str
) -> None:
    """Issue 12: a lone surrogate or NUL in a deal's text is filed in books.rejected_records (with
    the field named and the raw JSON escaped) instead of failing the whole run."""
    import json

    sb = env
    acme = add_customer(warehouse_uri, account="A1")
    good = crm_change(sb, "Deals", deal("Acme renewal", amount=100))
    lone = crm_change(sb, "Deals", deal("Lone \ud800 deal", amount=200))
    nul = crm_change(sb, "Deals", deal("Nul deal", stage="Qualifi\x00cation", amount=300))

    # 1. The good deal gets its estimate; the two others are quarantined, one row each.
    first = reconcile()
    assert_reconciled(first)
    assert estimates(warehouse_uri) == [
        ("EST-000001", good["id"], acme, "draft", 100.0, "Acme renewal", "2026-11-30")
    ]
    assert [r[0] for r in query(warehouse_uri, "SELECT crm_deal_id FROM books.deals")] == [
        good["id"]
    ]
    rejected = {
        r.crm_id: r
        for r in query(
            warehouse_uri,
            "SELECT run_id, module, crm_id, crm_modified_time, reason, raw_payload"
            " FROM books.rejected_records",
        )
    }
    assert set(rejected) == {lone["id"], nul["id"]}
    assert {(r.run_id, r.module) for r in rejected.values()} == {(first.run_id, "Deals")}
    assert rejected[lone["id"]].reason == "Deal_Name contains an unpaired surrogate U+D800"
    assert rejected[nul["id"]].reason.startswith("Stage contains a NUL character (U+0000)")
    assert all(r.crm_modified_time is not None for r in rejected.values())
    # The raw JSON is kept with escapes and decodes back to exactly what the CRM sent.
    assert "\\ud800" in rejected[lone["id"]].raw_payload
    assert json.loads(rejected[lone["id"]].raw_payload)["Deal_Name"] == "Lone \ud800 deal"
    assert json.loads(rejected[nul["id"]].raw_payload)["Stage"] == "Qualifi\x00cation"

    # 2. A quarantined version is no news: the next quiet period is skipped.
    assert_quiet(reconcile())

    # 3. Re-reading everything files each version once.
    execute(warehouse_uri, "DELETE FROM books.sync_state WHERE module = 'Deals'")
    counts = rerun_reconcile(warehouse_uri, first.run_id)
    assert (counts["read"], counts["rejected"], counts.get("create", 0)) == (3, 2, 0)
    assert query(warehouse_uri, "SELECT COUNT(*) FROM books.rejected_records")[0][0] == 2

    # 4. Once the name is fixed in the CRM, the deal goes ahead like any other.
    crm_change(sb, "Deals", {"id": lone["id"], "Deal_Name": "Lone deal"})
    assert_reconciled(reconcile())
    assert [(e[1], e[5]) for e in estimates(warehouse_uri)] == [
        (good["id"], "Acme renewal"),
        (lone["id"], "Lone deal"),
    ]
