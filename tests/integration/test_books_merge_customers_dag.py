"""books_merge_customers end to end: the real DAG after real syncs from the sandbox CRM, both backends.

One story per test: duplicates arrive from the CRM, a dry run, a refused and a confirmed merge, then
later syncs update and delete the merged-away CRM record and finally the master.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from crm_books.warehouse.engine import create_warehouse_engine
from crm_books.warehouse.migrations import migrate
from crm_books.warehouse.timestamps import utcnow
from tests.dag_runs import RunOutcome, run_dag

pytestmark = pytest.mark.slow

SYNC = "crm_books_sync"
MERGE = "books_merge_customers"
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def query(uri: str, sql: str, **params: Any) -> list[Any]:
    engine = create_warehouse_engine(uri)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def execute(uri: str, sql: str, **params: Any) -> Any:
    engine = create_warehouse_engine(uri)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def snapshot(uri: str) -> list[Any]:
    """Everything a merge touches."""
    return [
        query(uri, f"SELECT * FROM books.{t} ORDER BY 1")
        for t in (
            "customers", "contact_persons", "estimates", "invoices", "duplicate_candidates",
            "merges",
        )
    ]  # fmt: skip


def customer_id(uri: str, account_id: str) -> int:
    return int(
        query(
            uri, "SELECT customer_id FROM books.customers WHERE crm_account_id = :i", i=account_id
        )[0][0]
    )


def holders(uri: str) -> dict[str, int]:
    return dict(
        query(uri, "SELECT estimate_number, customer_id FROM books.estimates")
        + query(uri, "SELECT invoice_number, customer_id FROM books.invoices")
    )


def merge(
    when: datetime,
    master: int,
    merged: list[int] | str,
    *,
    dry_run: bool = True,
    confirm: str = "",
) -> RunOutcome:
    # Every field is passed: params given to one dag.test() run can linger on the cached DAG.
    conf = {
        "master_customer_id": master,
        "merge_customer_ids": merged,
        "dry_run": dry_run,
        "confirm": confirm,
    }
    return run_dag(MERGE, when, conf)


def observe_merge_tasks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the merge tasks report (a dry run's summary, a refusal's message), in order.

    The tasks run in this process, so wrapping the library functions lets the test read them.
    """
    from crm_books.airflow_tasks import merge as merge_tasks

    said: list[str] = []
    real_dry_run, real_refuse = merge_tasks.dry_run, merge_tasks.refuse

    def dry_run(*args: Any, **kwargs: Any) -> Any:
        report = real_dry_run(*args, **kwargs)
        said.append(report.summary())
        return report

    def refuse(exc: Exception) -> Exception:
        said.append(str(exc))
        return real_refuse(exc)  # type: ignore[arg-type]

    monkeypatch.setattr(merge_tasks, "dry_run", dry_run)
    monkeypatch.setattr(merge_tasks, "refuse", refuse)
    return said


def account(name: str, **fields: Any) -> dict[str, Any]:
    return {"Account_Name": name, "Phone": "+1 555 0100", "Website": "https://acme.test", **fields}


def test_duplicates_from_the_crm_dry_run_refusals_merge_and_later_syncs(
    airflow_env: Any, warehouse_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = airflow_env
    said = observe_merge_tasks(monkeypatch)
    t0 = T0 + (timedelta(days=100) if warehouse_uri.startswith("postgres") else timedelta())
    # A Books-native customer typed in by hand before the CRM link existed.
    engine = create_warehouse_engine(warehouse_uri)
    migrate(engine)
    engine.dispose()
    now = utcnow()
    native = execute(
        warehouse_uri,
        "INSERT INTO books.customers (source, customer_sub_type, contact_name, website, status,"
        " created_at, updated_at) VALUES ('books', 'business', 'Acme Corp.', 'acme.test', 'active',"
        " :now, :now) RETURNING customer_id",
        now=now,
    )
    acme = sb.store.upsert("Accounts", account("Acme Corp"))
    acme_dup = sb.store.upsert("Accounts", account("ACME Corporation"))
    ada = sb.store.upsert(
        "Contacts", {"First_Name": "Ada", "Last_Name": "L", "Account_Name": {"id": acme["id"]}}
    )
    bob = sb.store.upsert(
        "Contacts", {"First_Name": "Bob", "Last_Name": "D", "Account_Name": {"id": acme_dup["id"]}}
    )
    sb.advance_clock(timedelta(hours=1))
    assert run_dag(SYNC, t0).state == "success"

    master, dup = customer_id(warehouse_uri, acme["id"]), customer_id(warehouse_uri, acme_dup["id"])
    flagged = {
        r[0]
        for r in query(
            warehouse_uri,
            "SELECT customer_id FROM books.duplicate_candidates WHERE status = 'open'",
        )
    }
    assert {master, dup, native} <= flagged  # the sync flagged all three as likely duplicates
    for number, owner in (("EST-000001", master), ("EST-000002", dup)):
        execute(
            warehouse_uri,
            "INSERT INTO books.estimates (estimate_number, customer_id, status, total,"
            " date, created_at, updated_at) VALUES (:n, :c, 'sent', 10, '2026-11-01', :now, :now)",
            n=number,
            c=owner,
            now=now,
        )
    execute(
        warehouse_uri,
        "INSERT INTO books.invoices (invoice_number, customer_id, status, total, date,"
        " created_at, updated_at) VALUES ('INV-000001', :c, 'paid', 99, '2026-11-01', :now, :now)",
        c=native,
        now=now,
    )
    before = snapshot(warehouse_uri)

    # 1. Dry run (the form's default; no confirmation needed, the ids typed as text): the report
    # task runs, the merge task is skipped, nothing changes.
    dry = merge(t0 + timedelta(hours=1), master, f"{dup}, {native}")
    assert dry.state == "success", dry.task_states
    assert dry.task_states == {"check_merge": "success", "merge_customers": "skipped"}
    report = said.pop()
    assert "DRY RUN, nothing changed" in report
    assert "would move 1 estimate(s) ['EST-000002'], 1 invoice(s) ['INV-000001']" in report
    assert snapshot(warehouse_uri) == before

    # 2. Dry run off without the confirmation word: refused before anything.
    unconfirmed = merge(t0 + timedelta(hours=2), master, [dup, native], dry_run=False)
    assert unconfirmed.state == "failed"
    assert unconfirmed.task_states["check_merge"] == "failed"
    assert "type MERGE in the confirm field" in said.pop()
    assert snapshot(warehouse_uri) == before

    # 3. A Books-native master over CRM-linked customers breaks a rule: refused, nothing changed.
    wrong = merge(t0 + timedelta(hours=3), native, [master, dup], dry_run=False, confirm="MERGE")
    assert wrong.state == "failed" and wrong.task_states["check_merge"] == "failed"
    refusal = said.pop()
    assert "rule 'a CRM-linked customer must be the master'" in refusal
    assert f"[{native}, {master}, {dup}]" in refusal
    assert snapshot(warehouse_uri) == before

    # 4. The confirmed merge.
    done = merge(t0 + timedelta(hours=4), master, [dup, native], dry_run=False, confirm="MERGE")
    assert done.state == "success", done.task_states
    assert holders(warehouse_uri) == {
        "EST-000001": master,
        "EST-000002": master,
        "INV-000001": master,
    }
    persons = dict(
        query(warehouse_uri, "SELECT crm_contact_id, customer_id FROM books.contact_persons")
    )
    assert persons == {ada["id"]: master, bob["id"]: master}
    merged = dict(
        query(
            warehouse_uri,
            "SELECT customer_id, status || ':' || COALESCE(CAST("
            "merged_into_customer_id AS TEXT), '-') FROM books.customers",
        )
    )
    assert merged == {master: "active:-", dup: f"inactive:{master}", native: f"inactive:{master}"}
    record = query(
        warehouse_uri,
        "SELECT master_customer_id, merged_customer_ids, run_id, merged_by FROM books.merges",
    )
    assert record == [(master, f"[{dup}, {native}]", done.run_id, "dag_test")]
    assert query(
        warehouse_uri,
        "SELECT DISTINCT status FROM books.duplicate_candidates WHERE customer_id IN (:a, :b, :c)",
        a=master,
        b=dup,
        c=native,
    ) == [("merged",)]
    after_merge = snapshot(warehouse_uri)

    # 5. Asking again in a new run is refused: the merged customers are no longer active.
    again = merge(t0 + timedelta(hours=5), master, [dup, native], dry_run=False, confirm="MERGE")
    assert again.state == "failed"
    assert f"already merged into {master}" in said.pop()
    assert snapshot(warehouse_uri) == after_merge

    # 6. The merged-away CRM account and its contact change in the CRM: the customer stays merged
    #    and unchanged, and the contact person stays with the master.
    sb.store.upsert(
        "Accounts",
        {"id": acme_dup["id"], "Phone": "+1 555 0199", "Account_Name": "ACME Corp (new)"},
    )
    sb.store.upsert("Contacts", {"id": bob["id"], "Email": "bob@acme.test"})
    sb.advance_clock(timedelta(hours=1))
    assert run_dag(SYNC, t0 + timedelta(hours=12)).state == "success"
    row = query(
        warehouse_uri,
        "SELECT contact_name, phone, status, merged_into_customer_id"
        " FROM books.customers WHERE customer_id = :c",
        c=dup,
    )
    assert row == [("ACME Corporation", "+1 555 0100", "inactive", master)]
    assert query(
        warehouse_uri,
        "SELECT customer_id, email FROM books.contact_persons WHERE crm_contact_id = :k",
        k=bob["id"],
    ) == [(master, "bob@acme.test")]

    # 7. The merged-away CRM account is deleted: still there, inactive and merged, never revived.
    sb.store.delete("Accounts", acme_dup["id"])
    sb.advance_clock(timedelta(hours=1))
    assert run_dag(SYNC, t0 + timedelta(hours=24)).state == "success"
    assert query(
        warehouse_uri,
        "SELECT status, merged_into_customer_id FROM books.customers WHERE customer_id = :c",
        c=dup,
    ) == [("inactive", master)]
    assert holders(warehouse_uri)["EST-000002"] == master

    # 8. Deleting the master in the CRM follows B5: it holds transactions, so it stays, inactive.
    sb.store.delete("Accounts", acme["id"])
    sb.advance_clock(timedelta(hours=1))
    assert run_dag(SYNC, t0 + timedelta(hours=36)).state == "success"
    statuses = dict(query(warehouse_uri, "SELECT customer_id, status FROM books.customers"))
    assert statuses == {master: "inactive", dup: "inactive", native: "inactive"}
    assert holders(warehouse_uri) == {
        "EST-000001": master,
        "EST-000002": master,
        "INV-000001": master,
    }


def test_the_form_defaults_to_a_dry_run_and_the_dag_is_manual() -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags" / "books_merge_customers.py"))
    assert not bag.import_errors
    dag = bag.dags[MERGE]
    params = dag.params
    assert params.get_param("dry_run").value is True
    assert params.get_param("confirm").value == ""
    for name in ("master_customer_id", "merge_customer_ids", "dry_run", "confirm"):
        assert params.get_param(name).description, name
    assert type(dag.timetable).__name__ == "NullTimetable"  # schedule=None: only when triggered
    assert "cannot be undone" in (dag.doc_md or "")
    assert all(task.retries >= 2 for task in dag.tasks)
