"""Every DAG in dags/ imports cleanly, cheaply, and carries what operators rely on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

DAG_FILES = sorted((ROOT / "dags").glob("*.py"))
EXPECTED_DAG_IDS = {"crm_books_sync"}
HEAVY_MODULES = (
    "pandas",
    "great_expectations",
    "requests",
    "psycopg",
    "crm_books.customers.load",
    "crm_books.customers.mapping",
    "crm_books.customers.quality",
)


@pytest.fixture(scope="module")
def dagbag(airflow_db):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}


def test_the_contracted_dags_exist(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert set(dagbag.dag_ids) >= EXPECTED_DAG_IDS


def test_each_file_is_named_after_its_dag(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag_id in dagbag.dag_ids:
        assert Path(dagbag.dags[dag_id].fileloc).stem == dag_id


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAG_IDS))
def test_dag_has_tags_owner_retries_and_docs(dagbag, dag_id: str) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.get_dag(dag_id)
    assert dag.tags and "crm-books" in dag.tags
    assert dag.doc_md and len(dag.doc_md) > 200
    assert dag.start_date is not None
    for task in dag.tasks:
        assert task.owner == "data-team", task.task_id
        assert task.retries >= 2, task.task_id


def test_sync_uses_a_data_interval_timetable(dagbag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.get_dag("crm_books_sync")
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.max_active_runs == 1


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_fast_without_heavy_libraries(dag_file: Path) -> None:
    """Parse cost of the file itself, after Airflow's own import, in a fresh interpreter."""
    probe = (
        "import sys, time, runpy; import airflow.sdk; "
        f"t = time.perf_counter(); runpy.run_path({str(dag_file)!r}); "
        "print(time.perf_counter() - t); "
        f"print([m for m in {HEAVY_MODULES!r} if m in sys.modules])"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins")}
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    lines = out.stdout.strip().splitlines()
    parse_seconds, loaded = float(lines[-2]), lines[-1]
    print(
        f"{dag_file.name}: {parse_seconds:.3f} s to parse (process {time.perf_counter() - started:.1f} s)"
    )
    assert loaded == "[]", f"{dag_file.name} imports heavy modules at parse time: {loaded}"
    assert parse_seconds < 1.0
