"""What the stack tests read back: the warehouse's tables, where each task ran, the kill timeline."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from devtools.celery_stack.api import AirflowApi
from tests.stack import compose_plan as plan
from tests.stack.conftest import RunningStack

# The tables a sync writes; columns that record when or by which run a row was written differ
# between two runs that leave the same data, so they are left out of the comparison.
SYNC_TABLES = (
    "customers",
    "contact_persons",
    "pending_contact_persons",
    "rejected_records",
    "duplicate_candidates",
)
RUN_COLUMNS = {"created_at", "updated_at", "loaded_at", "run_id", "filed_at", "flagged_at"}


def warehouse(running: RunningStack) -> psycopg.Connection[Any]:
    settings = plan.database_settings("books-warehouse")
    port = running.layout.port("books-warehouse")
    return psycopg.connect(
        host=running.layout.host,
        port=port,
        user=settings["user"],
        password=settings["password"],
        dbname=settings["database"],
    )


def snapshot(running: RunningStack) -> dict[str, list[tuple[Any, ...]]]:
    """Every sync table's rows (without run bookkeeping columns), sorted."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    with warehouse(running) as conn:
        for table in SYNC_TABLES:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = 'books' AND table_name = %s ORDER BY ordinal_position",
                    (table,),
                )
                if row[0] not in RUN_COLUMNS and not row[0].endswith("_run_id")
            ]
            query = sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier("books", table)
            )
            state[table] = sorted(conn.execute(query).fetchall(), key=repr)
    return state


def count(running: RunningStack, table: str) -> int:
    with warehouse(running) as conn:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("books", table))
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def worker_of(hostname: str | None) -> str:
    """The worker replica a task-instance hostname names."""
    names = {address: name for name, address in plan.WORKERS.items()}
    return names.get(hostname or "", f"unknown ({hostname})")


def placement(api: AirflowApi, dag_id: str, run_id: str) -> dict[str, str]:
    """'task_id[map_index]' -> worker, for every task instance of a run."""
    found = {}
    for ti in api.task_instances(dag_id, run_id):
        key = ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")
        found[key] = worker_of(ti.get("hostname"))
    return dict(sorted(found.items()))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def wait_for_running_task(
    api: AirflowApi,
    dag_id: str,
    run_id: str,
    tasks: set[str],
    timeout: float,
    settle: float = 0.5,
) -> dict[str, Any]:
    """The first task instance of `tasks` seen running (with its worker's hostname) that still
    runs `settle` seconds later, so a kill lands in the task's work, not in its start-up. The
    stack's chunk tasks run 1 to 4 s and each API call can take a second on a busy machine, so
    the settle is short and the polling quick: a 2 s settle missed every chunk in one CI run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ti in api.task_instances(dag_id, run_id):
            if ti["task_id"] in tasks and ti["state"] == "running" and ti.get("hostname"):
                time.sleep(settle)
                now_ti = api.tries(dag_id, run_id, ti["task_id"], ti["map_index"])[-1]
                if now_ti["state"] == "running":
                    return ti
        time.sleep(0.1)
    raise TimeoutError(f"no task of {sorted(tasks)} ran within {timeout:.0f} s")


def watch_retry(
    api: AirflowApi, ti: dict[str, Any], timeout: float, timeline: dict[str, Any]
) -> None:
    """Record when the killed attempt was given up (heartbeat timeout) and when the retry ran."""
    dag_id, run_id = ti["dag_id"], ti["dag_run_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tries = api.tries(dag_id, run_id, ti["task_id"], ti["map_index"])
        first = next((t for t in tries if t["try_number"] == ti["try_number"]), None)
        if first and first["state"] not in ("running", None) and "detected" not in timeline:
            timeline["detected"] = now()
            timeline["killed_try_state"] = first["state"]
            timeline["killed_try_end_date"] = first.get("end_date")
        retry = [t for t in tries if t["try_number"] > ti["try_number"]]
        if retry and retry[-1]["state"] == "success":
            timeline["retry_started"] = retry[-1].get("start_date")
            timeline["retry_succeeded"] = retry[-1].get("end_date")
            timeline["retry_worker"] = worker_of(retry[-1].get("hostname"))
            return
        time.sleep(2)
    raise TimeoutError(f"{ti['task_id']} was not retried to success within {timeout:.0f} s")
