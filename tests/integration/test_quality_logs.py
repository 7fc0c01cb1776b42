"""The quality gate's task log: the gate's own lines, none of Great Expectations' import noise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crm_books.customers.plan import SyncRun
from crm_books.customers.transform import transform_run
from crm_books.warehouse.engine import create_warehouse_engine
from crm_books.warehouse.migrations import migrate
from tests.conftest import ROOT
from tests.integration.test_sync_chunks import _stage_raw

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
    """A SQLite warehouse with one transformed run waiting for the gate."""
    uri = f"sqlite:///{path}"
    engine = create_warehouse_engine(uri)
    migrate(engine)
    _stage_raw(engine, RUN_ID)
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
    assert "{'checked': 6" in log  # the gate did check the rows (600 records, and persons)
    assert "because it is a closure" not in log
    assert "Skipping registering function" not in log
    assert not [
        line for line in lines if line.startswith("great_expectations") and " INFO " in line
    ]
    # What is left is the gate's own account of the run, not pages of GX.
    assert len(lines) < 20, log
