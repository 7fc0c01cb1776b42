"""Re-runs and retries of crm_books_sync: the real DAG, the sandbox CRM, SQLite and PostgreSQL.

Issue 11, defects 1-3: a re-run of a task or of the whole run leaves the warehouse, the rejected
records and the run log as one run would; a bad record is filed once per CRM version; the run log
ends as Airflow ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from crm_books.warehouse.engine import create_warehouse_engine
from tests.dag_runs import RunOutcome, run_dag
from tests.integration.test_crm_books_sync_dag import (
    DAG_ID,
    T0,
    account,
    assert_success,
    contact,
    query,
    snapshot,
)

pytestmark = pytest.mark.slow

RUN_LOG_COUNTS = (
    "module, extracted, inserted, updated, unchanged, deleted, inactivated, flagged, rejected,"
    " rejected_again, held, status, message"
)


def sync(when: datetime) -> RunOutcome:
    """The run of this interval; again with the same ``when``, that same run (same run_id) again."""
    return run_dag(DAG_ID, when, run_after=when)


def rerun(uri: str, run: RunOutcome, *task_ids: str) -> None:
    """Clear these tasks of a run and run them again, as the UI's Clear does: each task body runs
    with the plan the run's first task handed on (XCom keeps it), in the DAG's order. A failure
    raises, as the task would fail."""
    from crm_books.airflow_tasks import sync as tasks
    from crm_books.customers.plan import SyncRun

    row = query(
        uri,
        "SELECT interval_start, interval_end FROM books.sync_runs WHERE run_id = :r",
        r=run.run_id,
    )[0]
    plan = SyncRun(
        run_id=run.run_id,
        interval_start=_aware(row.interval_start),
        interval_end=_aware(row.interval_end),
    ).to_dict()
    bodies = {
        "extract_accounts": lambda: tasks.extract("Accounts", plan),
        "extract_contacts": lambda: tasks.extract("Contacts", plan),
        "transform_records": lambda: tasks.transform_records(
            [tasks.transform_chunk(plan, c) for c in tasks.list_chunks(plan)]
        ),
        "validate_records": lambda: tasks.validate_records(
            plan, [tasks.validate_chunk(plan, c) for c in tasks.list_chunks(plan)]
        ),
        "load_customers": lambda: tasks.load(plan),
        "apply_deletions": lambda: tasks.apply_deletions(plan),
        "flag_duplicates": lambda: tasks.flag_duplicates(plan),
        "record_run": lambda: tasks.finish(plan),
    }
    for task_id in task_ids:
        bodies[task_id]()


def _aware(value: Any) -> datetime | None:
    from crm_books.warehouse.timestamps import as_utc

    return as_utc(value)


def state(uri: str) -> list[Any]:
    """What a user sees after a run: Books, the rejected records and the run log's counts."""
    rejects = query(
        uri,
        "SELECT rejected_id, run_id, module, crm_id, crm_modified_time, reason, raw_payload,"
        " rejected_at FROM books.rejected_records ORDER BY rejected_id",
    )
    runs = query(uri, f"SELECT run_id, {RUN_LOG_COUNTS} FROM books.sync_runs ORDER BY 1, 2")
    return [*snapshot(uri), rejects, runs]


def bad_records(sb: Any) -> dict[str, dict[str, Any]]:
    """One record for each kind of reject: the transform's and the quality gate's."""
    return {
        "nameless": sb.store.upsert("Accounts", account("   ")),
        "bad_email": sb.store.upsert("Contacts", contact("Eve", "Bad", Email="eve@@example")),
        "bad_lookup": sb.store.upsert("Contacts", contact("Lu", "Kup", Account_Name="no lookup")),
    }


def test_rerun_after_success_keeps_rejects_and_counts(airflow_env: Any, warehouse_uri: str) -> None:
    sb = airflow_env
    bad = bad_records(sb)
    acme = sb.store.upsert("Accounts", account("Acme Corp", Website="https://www.acme.test"))
    sb.store.upsert("Contacts", contact("Ada", "Lovelace", acme["id"]))
    # Later changes, so the high-water mark moves well past the bad records: a re-run that read
    # from it would no longer see them.
    sb.advance_clock(timedelta(hours=1))
    sb.store.upsert("Accounts", account("ACME Corporation", Website="http://acme.test/about"))
    sb.store.upsert("Contacts", contact("Grace", "Hopper"))
    sb.advance_clock(timedelta(hours=1))
    first = sync(T0)
    assert_success(first)
    after_one_run = state(warehouse_uri)
    rejected = {r.crm_id for r in after_one_run[2]}
    assert rejected == {b["id"] for b in bad.values()}
    counts = {r.module: r for r in after_one_run[3]}
    assert (counts["Accounts"].rejected, counts["Contacts"].rejected) == (1, 2)
    assert counts["Accounts"].flagged > 0 and counts["Accounts"].extracted == 3

    # load_customers cleared after the run succeeded: it finds the run loaded and changes nothing.
    rerun(warehouse_uri, first, "load_customers")
    assert state(warehouse_uri) == after_one_run

    # The whole run again: the same window is read, nothing is filed twice or lost.
    whole = sync(T0)
    assert_success(whole)
    assert whole.run_id == first.run_id
    assert state(warehouse_uri) == after_one_run


def test_each_task_retried_after_success_changes_nothing(
    airflow_env: Any, warehouse_uri: str
) -> None:
    sb = airflow_env
    bad_records(sb)
    gone = sb.store.upsert("Accounts", account("Closing Down Ltd"))
    sb.store.upsert("Accounts", account("Initech", Website="https://initech.test"))
    sb.advance_clock(timedelta(hours=1))
    assert_success(sync(T0))
    # A second run with a deletion and a duplicate, so every count of the run log is in play.
    sb.store.delete("Accounts", gone["id"])
    sb.store.upsert("Accounts", account("Initech Inc", Website="http://initech.test"))
    sb.advance_clock(timedelta(hours=1))
    second = sync(T0 + timedelta(hours=12))
    assert_success(second)
    after = state(warehouse_uri)
    log = {r.module: r for r in after[3] if r.run_id == second.run_id}
    assert log["Accounts"].deleted == 1 and log["Accounts"].flagged > 0

    for task_id in (
        "extract_accounts",
        "extract_contacts",
        "transform_records",
        "validate_records",
        "load_customers",
        "apply_deletions",
        "flag_duplicates",
        "record_run",
    ):
        rerun(warehouse_uri, second, task_id)
        assert state(warehouse_uri) == after, task_id


def test_a_bad_record_that_never_changes_is_filed_once(
    airflow_env: Any, warehouse_uri: str
) -> None:
    sb = airflow_env
    sb.store.upsert("Accounts", account("Good Co"))
    bad = sb.store.upsert("Contacts", contact("Eve", "Bad", Email="eve@@example"))
    sb.advance_clock(timedelta(minutes=1))
    # Five syncs; nothing changes in the CRM, so each re-reads the overlap window holding the bad
    # contact.
    runs = []
    for i in range(5):
        outcome = sync(T0 + timedelta(hours=12 * i))
        assert_success(outcome)
        runs.append(outcome.run_id)
    filed = query(warehouse_uri, "SELECT run_id, crm_id, reason FROM books.rejected_records")
    assert [(r.run_id, r.crm_id) for r in filed] == [(runs[0], bad["id"])]
    log = {
        r.run_id: (r.extracted, r.rejected, r.rejected_again)
        for r in query(
            warehouse_uri,
            "SELECT run_id, extracted, rejected, rejected_again FROM books.sync_runs"
            " WHERE module = 'Contacts'",
        )
    }
    assert log == {runs[0]: (1, 1, 0), **{r: (1, 1, 1) for r in runs[1:]}}

    # A new version of the record, still bad, is a second bad record version: a second row.
    sb.store.upsert("Contacts", {"id": bad["id"], "Email": "eve@@example.org"})
    sb.advance_clock(timedelta(minutes=1))
    sixth = sync(T0 + timedelta(hours=60))
    assert_success(sixth)
    filed = query(
        warehouse_uri, "SELECT run_id, reason FROM books.rejected_records ORDER BY rejected_id"
    )
    assert [r.run_id for r in filed] == [runs[0], sixth.run_id]
    assert "eve@@example.org" in filed[1].reason
    assert query(
        warehouse_uri,
        "SELECT rejected, rejected_again FROM books.sync_runs WHERE run_id = :r AND module = 'Contacts'",
        r=sixth.run_id,
    ) == [(1, 0)]


def _execute(uri: str, sql: str) -> None:
    engine = create_warehouse_engine(uri)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def test_a_run_marked_failed_then_retried_to_success_is_logged_success(
    airflow_env: Any, warehouse_uri: str
) -> None:
    sb = airflow_env
    sb.store.upsert("Accounts", account("Acme Corp"))
    sb.store.upsert("Contacts", contact("Grace", "Hopper"))
    sb.advance_clock(timedelta(hours=1))
    assert_success(sync(T0 - timedelta(hours=12)))  # the warehouse exists
    sb.store.upsert("Accounts", account("Initech"))
    sb.advance_clock(timedelta(hours=1))

    # The load fails (a table it writes is gone), and the failure callback records it.
    _execute(warehouse_uri, "ALTER TABLE books.pending_contact_persons RENAME TO pending_away")
    failed = sync(T0)
    assert failed.state == "failed"
    assert failed.task_states["load_customers"] == "failed"
    logged = query(
        warehouse_uri,
        "SELECT status, message FROM books.sync_runs WHERE run_id = :r",
        r=failed.run_id,
    )
    assert {r.status for r in logged} == {"failed"}
    assert all("pending_contact_persons" in r.message for r in logged)
    assert query(warehouse_uri, "SELECT COUNT(*) FROM books.customers") == [(2,)]  # rolled back

    # Fixed, and the failed task and the ones after it cleared: the run succeeds, and says so.
    _execute(warehouse_uri, "ALTER TABLE books.pending_away RENAME TO pending_contact_persons")
    rerun(
        warehouse_uri, failed, "load_customers", "apply_deletions", "flag_duplicates", "record_run"
    )
    logged = query(
        warehouse_uri,
        "SELECT module, status, message, inserted FROM books.sync_runs WHERE run_id = :r"
        " ORDER BY module",
        r=failed.run_id,
    )
    assert [tuple(r) for r in logged] == [
        ("Accounts", "success", None, 1),
        ("Contacts", "success", None, 0),
    ]
    assert query(warehouse_uri, "SELECT COUNT(*) FROM books.customers") == [(3,)]

    # And a failure recorded after a success (a later task cleared and failing) says failed.
    from crm_books.customers.run_log import mark_run_failed

    engine = create_warehouse_engine(warehouse_uri)
    try:
        mark_run_failed(engine, failed.run_id, "flag_duplicates: boom")
    finally:
        engine.dispose()
    assert {
        tuple(r)
        for r in query(
            warehouse_uri,
            "SELECT status, message FROM books.sync_runs WHERE run_id = :r",
            r=failed.run_id,
        )
    } == {("failed", "flag_duplicates: boom")}
