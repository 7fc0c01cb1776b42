"""Names outside callers rely on (DESIGN.md section 2) and project-wide defaults."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

CRM_CONN_ID = "zoho_crm"
WAREHOUSE_CONN_ID = "books_warehouse"
WORKFLOW_VARIABLE = "books_potential_workflow"

SYNC_DAG_ID = "crm_books_sync"
RECONCILE_DAG_ID = "potential_reconcile"
MERGE_DAG_ID = "books_merge_customers"
CREATE_DOCUMENT_DAG_ID = "books_create_document"

# Documents by hand (books_create_document): the types, and what books.estimates/invoices hold
# (line_item text, total NUMERIC(18, 2)).
DOCUMENT_TYPES = ("estimate", "invoice")
# Each type's table and key columns: the names a statement file written once for both types is
# run with (``run_sql(..., names=DOCUMENT_TABLES[document_type])``).
DOCUMENT_TABLES = {
    "estimate": {"documents": "books.estimates", "document_id": "estimate_id",
                 "document_number": "estimate_number"},
    "invoice": {"documents": "books.invoices", "document_id": "invoice_id",
                "document_number": "invoice_number"},
}  # fmt: skip
MAX_LINE_ITEM = 500
MAX_AMOUNT = Decimal("9999999999999999.99")

# Failure mails (off by default): on when this connection exists or the Variable is "true".
ALERTS_SMTP_CONN_ID = "crm_books_alerts_smtp"
ALERTS_VARIABLE = "crm_books_failure_alerts"

SCHEMA = "books"
OWNER = "data-team"
TAGS = ["crm-books"]
# What every DAG of the product shares: a fixed start, the owner, bounded retries with backoff.
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
}


def dag_settings(doc_md: str | None, tag: str, **default_args: Any) -> dict[str, Any]:
    """What every DAG of the product is built with, besides its id, schedule and Params:
    ``DAG(dag_id=..., schedule=..., **dag_settings(__doc__, "sync"))``."""
    return {
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "doc_md": doc_md,
        "tags": [*TAGS, tag],
        "default_args": {**DEFAULT_ARGS, **default_args},
    }


# The Asset load_customers publishes when customers change (downstream DAGs can schedule on it).
CUSTOMERS_ASSET_URI = "books://warehouse/customers"

PROJECT_ROOT = Path(os.environ.get("CRM_BOOKS_HOME", Path(__file__).resolve().parents[2]))
SQL_DIR = Path(os.environ.get("CRM_BOOKS_SQL_DIR", PROJECT_ROOT / "include" / "sql"))
DATA_DIR = Path(os.environ.get("CRM_BOOKS_DATA_DIR", PROJECT_ROOT / "data"))
DEFAULT_WAREHOUSE_URI = f"sqlite:///{DATA_DIR / 'books.db'}"

# Zoho CRM v8 modules and the fields this product reads (DESIGN.md B1, B2, B8).
CRM_API_PREFIX = "/crm/v8"
ACCOUNTS = "Accounts"
CONTACTS = "Contacts"
DEALS = "Deals"
SYNC_MODULES = (ACCOUNTS, CONTACTS)

MODULE_FIELDS: dict[str, tuple[str, ...]] = {
    ACCOUNTS: (
        "Account_Name",
        "Phone",
        "Fax",
        "Website",
        "Description",
        "Billing_Street",
        "Billing_City",
        "Billing_State",
        "Billing_Code",
        "Billing_Country",
        "Shipping_Street",
        "Shipping_City",
        "Shipping_State",
        "Shipping_Code",
        "Shipping_Country",
        "Created_Time",
        "Modified_Time",
    ),
    CONTACTS: (
        "Salutation",
        "First_Name",
        "Last_Name",
        "Email",
        "Phone",
        "Mobile",
        "Fax",
        "Account_Name",
        "Mailing_Street",
        "Mailing_City",
        "Mailing_State",
        "Mailing_Zip",
        "Mailing_Country",
        "Other_Street",
        "Other_City",
        "Other_State",
        "Other_Zip",
        "Other_Country",
        "Created_Time",
        "Modified_Time",
    ),
    DEALS: (
        "Deal_Name",
        "Amount",
        "Stage",
        "Account_Name",
        "Contact_Name",
        "Closing_Date",
        "Created_Time",
        "Modified_Time",
    ),
}

MAX_FIELDS_PER_CALL = 50
PER_PAGE = 200
DISCRETE_PAGE_LIMIT = 2_000
QUERY_RECORD_LIMIT = 100_000
