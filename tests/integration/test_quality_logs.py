"""The quality gate's task log: the gate's own lines, none of Great Expectations' import noise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crm_books import config
from crm_books.customers.extract import _raw_row
from crm_books.customers.plan import SyncRun
from crm_books.customers.transform import transform_run
from crm_books.warehouse.bulk import bulk_insert
from crm_books.warehouse.engine import create_warehouse_engine
from crm_books.warehouse.migrations import migrate
from tests.conftest import ROOT
from zoho_sandbox.generator import Generator

RUN_ID = "manual__quiet-logs"

# The validate step in a fresh interpreter (GX logs most of its noise while it is imported), its
# logging set up as Airflow's task runner does: INFO and above from every logger.
VALIDATE = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(levelname)s %(message)s")
from crm_books.customers.plan import SyncRun
from crm_books.customers.validate import validate_run
from crm_books.warehouse.engine import create_warehouse_engine
print(validate_run(create_warehouse_engine(sys.argv[1]), SyncRun(run_id=sys.argv[2])))
"""


def _staged_warehouse(path: Path) -> str:
    """A SQLite warehouse with one transformed run waiting for the gate, a few rows bad."""
    uri = f"sqlite:///{path}"
    engine = create_warehouse_engine(uri)
    migrate(engine)
    gen = Generator(seed=5, accounts=40, contacts=60, deals=0)
    rows = []
    for module in config.SYNC_MODULES:
        for i, record in enumerate(gen.iter_records(module)):
            if i % 25 == 0:
                record = {**record, "Email": "not an email"}
            rows.append(_raw_row(RUN_ID, module, record)[0])
    with engine.begin() as conn:
        bulk_insert(
            conn,
            "stg_crm_records",
            ("run_id", "module", "crm_id", "modified_time", "payload"),
            rows,
        )
    transform_run(engine, SyncRun(run_id=RUN_ID))
    engine.dispose()
    return uri


def test_validate_log_keeps_the_gate_lines_and_drops_gx_noise(tmp_path: Path) -> None:
    uri = _staged_warehouse(tmp_path / "books.db")
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
        "GX_ANALYTICS_ENABLED": "False",
    }
    out = subprocess.run(
        [sys.executable, "-c", VALIDATE, uri, RUN_ID],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    )
    log = out.stdout + out.stderr
    lines = log.splitlines()
    print(log)
    assert any(line.startswith("crm_books.customers.validate INFO quality gate:") for line in lines)
    assert any("quality gate Accounts" in line and "rows/s" in line for line in lines)
    assert "'checked': 100" in log  # the gate did check the rows
    assert "because it is a closure" not in log
    assert "Skipping registering function" not in log
    assert not [
        line for line in lines if line.startswith("great_expectations") and " INFO " in line
    ]
    # What is left is the gate's own account of the run, not pages of GX.
    assert len(lines) < 20, log
