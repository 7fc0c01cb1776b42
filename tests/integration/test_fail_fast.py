"""Issue 11, defect 5: failures no retry can fix fail at once, with the DAG's own retries in place,
and the run log says why; what can recover (the warehouse server) keeps its retries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk.definitions.param import ParamValidationError

from devtools.pg_throwaway import free_port
from tests.dag_runs import _dagbag, run_dag
from tests.integration.test_crm_books_sync_dag import account, query, scalar

pytestmark = pytest.mark.slow

SYNC = "crm_books_sync"
RECONCILE = "potential_reconcile"
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
# The DAGs' retries stay (2 each); only their delay shrinks, so a retry would show within seconds.
QUICK_RETRY = timedelta(seconds=1)


def run_log(uri: str, run_id: str) -> dict[str, Any]:
    rows = query(
        uri,
        "SELECT module, status, message, dag_id, interval_start, finished_at"
        " FROM books.sync_runs WHERE run_id = :r",
        r=run_id,
    )
    return {r.module: r for r in rows}


def test_another_organisation_fails_at_once_and_the_run_log_says_why(
    airflow_env: Any, warehouse_uri: str
) -> None:
    sb = airflow_env
    sb.store.upsert("Accounts", account("Home Org Customer"))
    sb.advance_clock(timedelta(hours=1))
    assert run_dag(SYNC, T0).state == "success"

    sb.set_org("other-org-9", "Somebody Else")
    sb.advance_clock(timedelta(hours=1))
    outcome = run_dag(SYNC, T0 + timedelta(hours=12), retry_delay=QUICK_RETRY)
    assert outcome.state == "failed"
    assert outcome.task_states["check_organization"] == "failed"
    assert outcome.tries["check_organization"] == 1  # not retried, though retries=2
    assert outcome.task_states["extract_accounts"] == "upstream_failed"
    log = run_log(warehouse_uri, outcome.run_id)
    assert set(log) == {"Accounts", "Contacts"}
    for row in log.values():
        assert row.status == "failed" and row.dag_id == SYNC and row.finished_at is not None
        assert "linked to CRM organisation sandbox-org-1" in row.message
        assert "other-org-9" in row.message
    assert scalar(warehouse_uri, "SELECT COUNT(*) FROM books.customers") == 1


def test_a_trigger_with_no_modules_is_refused(airflow_db: Any) -> None:
    with pytest.raises(ParamValidationError, match="modules"):
        run_dag(SYNC, T0, {"modules": []})


@contextmanager
def without_min_items() -> Iterator[None]:
    """A run whose conf skipped the form's check (e.g. created by a DAG version before minItems)."""
    dag = _dagbag().get_dag(SYNC)

    def schemas() -> list[dict[str, Any]]:
        return [p.get_param("modules").schema for p in (dag.params, *(t.params for t in dag.tasks))]

    for schema in schemas():
        schema.pop("minItems")
    try:
        yield
    finally:
        for schema in schemas():  # run_dag put back copies: restore the check on those
            schema["minItems"] = 1


def test_conf_selecting_no_module_fails_at_once_and_the_run_log_says_why(
    airflow_env: Any, warehouse_uri: str
) -> None:
    sb = airflow_env
    sb.store.upsert("Accounts", account("Never Read"))
    sb.advance_clock(timedelta(hours=1))
    with without_min_items():
        outcome = run_dag(SYNC, T0, {"modules": []}, retry_delay=QUICK_RETRY)
    assert outcome.state == "failed"
    assert outcome.task_states["check_organization"] == "failed"
    assert outcome.tries["check_organization"] == 1
    log = run_log(warehouse_uri, outcome.run_id)
    assert set(log) == {"Accounts", "Contacts"}
    for row in log.values():
        assert row.status == "failed"
        assert "Params 'modules' is []" in row.message and "Accounts" in row.message
    assert scalar(warehouse_uri, "SELECT COUNT(*) FROM books.crm_organization") == 0


def test_a_failed_quality_gate_is_not_retried(airflow_env: Any, warehouse_uri: str) -> None:
    sb = airflow_env
    for i in range(15):
        sb.store.upsert("Accounts", account(f"Fine {i}"))
    for i in range(10):
        sb.store.upsert("Accounts", account("", Phone=f"+1 555 02{i:02d}"))  # names missing
    sb.advance_clock(timedelta(hours=1))
    outcome = run_dag(SYNC, T0, retry_delay=QUICK_RETRY)
    assert outcome.state == "failed"
    assert outcome.task_states["validate_records"] == "failed"
    assert outcome.tries["validate_records"] == 1
    assert outcome.tries["extract_accounts"] == 1
    log = run_log(warehouse_uri, outcome.run_id)
    assert log["Accounts"].status == "failed"
    assert "quality gate failed" in log["Accounts"].message
    assert scalar(warehouse_uri, "SELECT COUNT(*) FROM books.customers") == 0


def test_a_wrong_crm_client_secret_fails_at_once(
    airflow_env: Any, warehouse_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import os

    conn = json.loads(os.environ["AIRFLOW_CONN_ZOHO_CRM"])
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM", json.dumps({**conn, "password": "not-the-secret"}))
    outcome = run_dag(SYNC, T0, retry_delay=QUICK_RETRY)
    assert outcome.task_states["check_organization"] == "failed"
    assert outcome.tries["check_organization"] == 1
    message = run_log(warehouse_uri, outcome.run_id)["Accounts"].message
    assert "invalid_client" in message and "client secret" in message
    assert "not-the-secret" not in message


def test_an_unreachable_warehouse_is_retried(
    airflow_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server that is down may come back: the task keeps its retries, with a message naming it.
    port = free_port()
    monkeypatch.setenv("AIRFLOW_CONN_BOOKS_WAREHOUSE", f"postgresql://books@127.0.0.1:{port}/books")
    outcome = run_dag(SYNC, T0, retry_delay=QUICK_RETRY)
    assert outcome.task_states["ensure_schema"] == "failed"
    assert outcome.tries["ensure_schema"] == 3


def test_an_invalid_workflow_variable_fails_reconcile_at_once(
    airflow_env: Any, warehouse_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_books.airflow_tasks.reconcile import reconcile_task
    from crm_books.warehouse.engine import create_warehouse_engine
    from crm_books.warehouse.migrations import migrate

    engine = create_warehouse_engine(warehouse_uri)
    migrate(engine)
    engine.dispose()
    monkeypatch.setenv("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW", "estimates")
    sensor = _dagbag().get_dag(RECONCILE).get_task("wait_for_deal_changes")
    monkeypatch.setattr(sensor, "poke_interval", 0.5)
    monkeypatch.setattr(sensor, "timeout", 2.0)

    outcome = run_dag(RECONCILE, T0, retry_delay=QUICK_RETRY)
    assert outcome.state == "failed"
    # Failed, not skipped: soft_fail must not hide a mistyped setting as a quiet period.
    assert outcome.task_states["wait_for_deal_changes"] == "failed"
    assert outcome.tries["wait_for_deal_changes"] == 1
    assert outcome.task_states["reconcile_deals"] == "upstream_failed"

    # The reconcile task itself (e.g. cleared after the Variable broke) refuses at once too.
    from airflow.sdk.exceptions import AirflowFailException

    for variable, value, says in (
        ("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW", "estimates", "one of: estimate, invoice, off"),
        ("AIRFLOW_VAR_BOOKS_POTENTIAL_STAGES", '{"won": "Closed Won"}', "must be a list"),
    ):
        monkeypatch.setenv("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW", "estimate")
        monkeypatch.setenv(variable, value)
        with pytest.raises(AirflowFailException, match=says):
            reconcile_task({"run_id": "manual__cleared", "logical_date": T0})
