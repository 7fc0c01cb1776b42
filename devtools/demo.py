"""`make demo`: the whole job offline — sandbox CRM, the real DAGs on a SQLite Airflow, a SQLite warehouse."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crm_books import config as crm_config

DEMO_DIR = crm_config.DATA_DIR / "demo"
MASKING_ENV = ("AIRFLOW_CONN_", "AIRFLOW_VAR_")
REPORT_QUERIES: list[tuple[str, str]] = [
    (
        "Customers by type and status",
        "SELECT customer_sub_type, status, COUNT(*) FROM books.customers GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    ("Contact persons", "SELECT COUNT(*) FROM books.contact_persons"),
    ("Contacts waiting for their account", "SELECT COUNT(*) FROM books.pending_contact_persons"),
    (
        "Run log (books.sync_runs)",
        "SELECT run_id, module, extracted, inserted, updated, unchanged, deleted, inactivated, flagged,"
        " rejected, held, status FROM books.sync_runs ORDER BY started_at, module",
    ),
    (
        "Rejected records by reason (top 8)",
        "SELECT reason, COUNT(*) FROM books.rejected_records GROUP BY reason ORDER BY 2 DESC, 1 LIMIT 8",
    ),
    (
        "Open duplicate candidates (first 8)",
        "SELECT d.group_key, c.customer_id, c.contact_name FROM books.duplicate_candidates d"
        " JOIN books.customers c ON c.customer_id = d.customer_id WHERE d.status = 'open'"
        " ORDER BY d.group_key, c.customer_id LIMIT 8",
    ),
    ("Estimates by status", "SELECT status, COUNT(*) FROM books.estimates GROUP BY 1 ORDER BY 1"),
    ("Invoices by status", "SELECT status, COUNT(*) FROM books.invoices GROUP BY 1 ORDER BY 1"),
    (
        "Deals waiting for their customer",
        "SELECT COUNT(*) FROM books.deals WHERE state = 'pending'",
    ),
]


def _prepare_environment(airflow_home: Path, warehouse_file: Path) -> None:
    # Connections and Variables from the calling shell would be read before the demo's own.
    for name in [n for n in os.environ if n.startswith(MASKING_ENV)]:
        del os.environ[name]
    os.environ.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(crm_config.PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(crm_config.PROJECT_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "GX_ANALYTICS_ENABLED": "False",
        }
    )


def _seed_settings(crm_url: str, warehouse_file: Path) -> None:
    """airflow_settings.yaml's connections and Variable into the demo's metadata DB, kept if there
    (--keep); only zoho_crm is always replaced, since the demo's own sandbox gets a new port."""
    from devtools.local_settings import local_seeds, seed_metadata_db

    seed_metadata_db(local_seeds(crm_url, warehouse_file), replace={crm_config.CRM_CONN_ID})


def _run(dag_id: str, bag: Any, logical_date: datetime, conf: dict[str, Any] | None = None) -> str:
    dag = bag.get_dag(dag_id)
    if dag is None:
        print(f"  {dag_id}: not built yet, skipped")
        return "skipped"
    for task in dag.tasks:  # a demo should show the first failure, not wait out retries
        task.retries = 0
    started = time.monotonic()
    run = dag.test(logical_date=logical_date, run_conf=conf or {})
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    print(
        f"  {dag_id} @ {logical_date:%Y-%m-%d %H:%M}: {run.state} in {time.monotonic() - started:.0f} s"
    )
    failed = {t: s for t, s in states.items() if s in {"failed", "upstream_failed"}}
    if failed:
        print(f"    failed tasks: {failed}")
    return str(run.state)


def _report(warehouse_file: Path) -> None:
    from sqlalchemy import text

    from crm_books.warehouse.engine import create_warehouse_engine

    engine = create_warehouse_engine(f"sqlite:///{warehouse_file}")
    with engine.connect() as conn:
        for title, query in REPORT_QUERIES:
            rows = [tuple(r) for r in conn.execute(text(query)).all()]
            print(f"\n{title}:")
            for row in rows or [("(none)",)]:
                print("  " + " | ".join("" if v is None else str(v) for v in row))
    engine.dispose()
    print(f"\nWarehouse: {warehouse_file} (open it with: sqlite3 {warehouse_file})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--contacts", type=int, default=900)
    parser.add_argument("--deals", type=int, default=150)
    parser.add_argument("--keep", action="store_true", help="keep the previous demo warehouse")
    args = parser.parse_args(argv)

    airflow_home = DEMO_DIR / "airflow"
    warehouse_file = DEMO_DIR / "books.db"
    if not args.keep and DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    airflow_home.mkdir(parents=True, exist_ok=True)
    _prepare_environment(airflow_home, warehouse_file)

    print("1/4 Airflow metadata database (SQLite)")
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True
    )
    from zoho_sandbox import SandboxConfig, SandboxServer

    start = datetime(2026, 11, 2, tzinfo=UTC)
    config = SandboxConfig(
        seed=7, accounts=args.accounts, contacts=args.contacts, deals=args.deals, clock_start=start
    )
    print(
        f"2/4 Sandbox CRM with {args.accounts} accounts, {args.contacts} contacts, {args.deals} deals"
    )
    with SandboxServer(config) as crm:
        _seed_settings(crm.base_url, warehouse_file)
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(crm_config.PROJECT_ROOT / "dags"))
        if bag.import_errors:
            print(f"DAG import errors: {bag.import_errors}")
            return 1
        print("3/4 Running the DAGs")
        states = [_run(crm_config.SYNC_DAG_ID, bag, start)]
        states.append(_run(crm_config.RECONCILE_DAG_ID, bag, start + timedelta(minutes=15)))
        # Some CRM activity, then the next 12-hour interval picks it up.
        first = crm.store.get("Accounts", crm.store.table("Accounts").ids[0])
        if first:
            crm.store.upsert("Accounts", {"id": first["id"], "Phone": "+1 555 0142"})
        crm.advance_clock(timedelta(hours=12))
        states.append(_run(crm_config.SYNC_DAG_ID, bag, start + timedelta(hours=12)))
    print("4/4 What landed in the Books warehouse")
    _report(warehouse_file)
    ok = all(s in {"success", "skipped"} for s in states)
    print(
        "\ndemo finished: "
        + ("all runs succeeded" if ok else f"some runs did not succeed: {states}")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
