"""Names outside callers rely on (DESIGN.md section 2) and project-wide defaults."""

from __future__ import annotations

import os
from pathlib import Path

CRM_CONN_ID = "zoho_crm"
WAREHOUSE_CONN_ID = "books_warehouse"
WORKFLOW_VARIABLE = "books_potential_workflow"

SYNC_DAG_ID = "crm_books_sync"
RECONCILE_DAG_ID = "potential_reconcile"
MERGE_DAG_ID = "books_merge_customers"

SCHEMA = "books"
OWNER = "data-team"
TAGS = ["crm-books"]

PROJECT_ROOT = Path(os.environ.get("CRM_BOOKS_HOME", Path(__file__).resolve().parents[2]))
SQL_DIR = Path(os.environ.get("CRM_BOOKS_SQL_DIR", PROJECT_ROOT / "include" / "sql"))
DATA_DIR = Path(os.environ.get("CRM_BOOKS_DATA_DIR", PROJECT_ROOT / "data"))
DEFAULT_WAREHOUSE_URI = f"sqlite:///{DATA_DIR / 'books.db'}"
