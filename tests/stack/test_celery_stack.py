"""docker-compose.yaml's production shape run for real without Docker: CeleryExecutor, Redis, two
workers in Celery's default prefork pool, PostgreSQL for Airflow and for the warehouse, the sandbox
CRM, all on loopback and configured from the compose file. The tests run in order on one stack."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest

from devtools.celery_stack.processes import wait_until
from tests.stack import compose_plan as plan
from tests.stack import stack_checks as check
from tests.stack.conftest import RunningStack

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.stack, pytest.mark.timeout(900)]

SYNC, RECONCILE = "crm_books_sync", "potential_reconcile"
RUN_TIMEOUT = 420


def only_run(running: RunningStack, dag_id: str) -> dict[str, Any]:
    """Unpause a DAG and wait for the run its schedule creates at once (catchup is off)."""
    running.api.unpause(dag_id)
    wait_until(lambda: bool(running.api.runs(dag_id)), 120, f"a scheduled run of {dag_id}", 2)
    (first,) = running.api.runs(dag_id)
    return running.api.wait_finished(dag_id, first["dag_run_id"], RUN_TIMEOUT)


def test_every_service_answers_its_compose_healthcheck_within_its_timeout(
    celery_stack: RunningStack,
) -> None:
    from tests.stack.conftest import SERVICES, compose_name

    print(f"healthchecks' passing runs (s): {celery_stack.health_seconds}")
    for name in SERVICES:
        took = celery_stack.health_seconds[f"healthcheck of {name}"]
        assert took < plan.healthcheck_timeout(compose_name(name)), (name, took)
    api = celery_stack.api
    wait_until(lambda: {SYNC, RECONCILE} <= api.dag_ids(), 180, "the DAGs parsed", 3)
    assert api.import_errors() == []
    # airflow-init migrated the warehouse its books_warehouse connection names.
    assert check.count(celery_stack, "customers") == 0


def test_sync_runs_its_mapped_chunks_on_both_prefork_workers(celery_stack: RunningStack) -> None:
    started = time.monotonic()
    run = only_run(celery_stack, SYNC)
    assert run["state"] == "success", check.placement(celery_stack.api, SYNC, run["dag_run_id"])
    where = check.placement(celery_stack.api, SYNC, run["dag_run_id"])
    print(f"{SYNC} {run['dag_run_id']} in {time.monotonic() - started:.0f} s, tasks on: {where}")
    assert set(where.values()) == set(plan.WORKERS), where
    assert [k for k in where if k.startswith("transform_chunk[")], "no mapped chunk ran"
    assert check.count(celery_stack, "customers") > 0
    celery_stack.notes["clean"] = check.snapshot(celery_stack)
    celery_stack.notes["clean_run"] = run["dag_run_id"]


def test_api_server_reads_a_worker_task_log_with_the_shared_secret_key_unmasked(
    celery_stack: RunningStack,
) -> None:
    # The api-server has a log folder of its own, so it reads the log from the worker's log
    # server: a request signed with [api] secret_key, refused (403) under another key.
    api, run_id = celery_stack.api, celery_stack.notes["clean_run"]
    ti = next(t for t in api.task_instances(SYNC, run_id) if t["task_id"] == "load_customers")
    text = api.log(SYNC, run_id, "load_customers", ti["try_number"], ti["map_index"])
    assert "secret_key" not in text and "Could not read served logs" not in text, text[:2000]
    assert "crm_books" in text, text[:2000]
    # The warehouse password is masked, and it is no common word that masks the product's names.
    assert "crm_***" not in text, text[:2000]


def test_potential_reconcile_runs_on_the_stack(celery_stack: RunningStack) -> None:
    run = only_run(celery_stack, RECONCILE)
    assert run["state"] == "success", check.placement(
        celery_stack.api, RECONCILE, run["dag_run_id"]
    )
    print(f"{RECONCILE}: {check.placement(celery_stack.api, RECONCILE, run['dag_run_id'])}")
    assert check.count(celery_stack, "estimates") > 0


def airflow_cli(running: RunningStack, *args: str) -> str:
    """The venv's `airflow` with the stack's AIRFLOW_HOME and settings (docs/operating.md)."""
    done = subprocess.run(
        ["airflow", *args], env=running.cli_env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_backfill_with_one_run_at_a_time_converges(celery_stack: RunningStack) -> None:
    listed = airflow_cli(celery_stack, "dags", "list")
    assert SYNC in listed and RECONCILE in listed, listed
    # Two calendar days of 12-hour intervals, from 2026-11-01 00:00 up to 2026-11-02 00:00.
    airflow_cli(
        celery_stack,
        *("backfill", "create", "--dag-id", SYNC, "--from-date", "2026-11-01"),
        *("--to-date", "2026-11-02", "--max-active-runs", "1"),
    )
    api = celery_stack.api

    def backfill_runs() -> list[dict[str, Any]]:
        return [r for r in api.runs(SYNC) if r["run_type"] == "backfill"]

    wait_until(lambda: bool(backfill_runs()), 120, "the backfill's runs", 2)
    deadline = time.monotonic() + RUN_TIMEOUT * 2
    for run in sorted(backfill_runs(), key=lambda r: r["logical_date"]):
        left = max(deadline - time.monotonic(), 1)
        finished = api.wait_finished(SYNC, run["dag_run_id"], left)
        assert finished["state"] == "success", finished
    runs = backfill_runs()
    print(f"backfill: {[(r['logical_date'], r['state']) for r in runs]}")
    assert len(runs) >= 2
    assert check.snapshot(celery_stack) == celery_stack.notes["clean"]


def test_killed_worker_task_is_retried_and_the_warehouse_matches_a_clean_run(
    celery_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    api, group = celery_stack.api, celery_stack.stack.group
    run_id = api.trigger(SYNC, {"full_refresh": True})
    timeline: dict[str, Any] = {"run_id": run_id, "triggered": check.now()}
    # A mapped chunk: its retry must find the run's plan and its chunk again on any worker.
    busy = {"transform_chunk", "validate_chunk"}
    ti = check.wait_for_running_task(api, SYNC, run_id, busy, RUN_TIMEOUT)
    victim = check.worker_of(ti["hostname"])
    killed = group.kill(victim)
    timeline.update(
        killed=check.now(),
        task=f"{ti['task_id']}[{ti['map_index']}] try {ti['try_number']}",
        task_started=ti.get("start_date"),
        worker=victim,
        pids_killed=killed,
    )
    group.restart(victim)
    timeline["worker_restarted"] = check.now()
    check.watch_retry(api, ti, RUN_TIMEOUT, timeline)
    run = api.wait_finished(SYNC, run_id, RUN_TIMEOUT)
    timeline.update(run_state=run["state"], run_ended=run.get("end_date"))
    timeline["placement"] = check.placement(api, SYNC, run_id)
    artifact = tmp_path_factory.getbasetemp() / "celery-stack-kill-timeline.json"
    artifact.write_text(json.dumps(timeline, indent=2) + "\n")
    print(f"kill timeline ({artifact}):\n{json.dumps(timeline, indent=2)}")
    assert run["state"] == "success", timeline
    assert timeline["killed_try_state"] in {"failed", "up_for_retry"}, timeline
    assert check.snapshot(celery_stack) == celery_stack.notes["clean"]
