"""
### books_create_document — an estimate or invoice by hand for a CRM account or contact (manual)

Trigger it from the UI form. Pick the **type** (estimate or invoice), give the **CRM record id**
of an account or contact that is in Books (synced by `crm_books_sync`; a contact that belongs to
an account gets the document on its account's customer), the **line item**, the **amount** and
the **date** (empty: the day of the run).

**Checked before anything is written**: `check_document` refuses the run, naming what to fix,
when a value is wrong (empty line item, amount not above 0 or with more than 2 decimals, a date
that is not YYYY-MM-DD) or the CRM record is not in Books, was merged into another customer or
is inactive. Nothing is written then.

**Effect, in one transaction** (`create_document`, under the warehouse lock): a `draft` estimate
or invoice numbered in the same sequence as the Potential workflow's (EST-000042, INV-000017),
and one audit row in `books.workflow_events` (`workflow = 'manual'`, `action = 'create'`, the
run id, and who triggered it and what was asked in `reason`).

**Never touched by the Potential workflow**: the document has no deal (`crm_deal_id` is NULL)
and no workflow status, so `potential_reconcile` never selects, updates or voids it.

**Retries** are safe: a retry of a run that already created its document returns that document.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task

from crm_books.airflow_tasks.alerts import FailureAlert
from crm_books.config import (
    CREATE_DOCUMENT_DAG_ID,
    DOCUMENT_TYPES,
    MAX_AMOUNT,
    MAX_LINE_ITEM,
    dag_settings,
)
from crm_books.warehouse.text import MAX_ID_LENGTH

with DAG(
    dag_id=CREATE_DOCUMENT_DAG_ID,
    schedule=None,
    **dag_settings(__doc__, "documents", on_failure_callback=FailureAlert()),
    params={
        "document_type": Param(
            "estimate",
            type="string",
            enum=list(DOCUMENT_TYPES),
            title="Document type",
            description="Estimate or invoice: which kind of Books document to create (no unit).",
        ),
        "crm_record_id": Param(
            "",
            type="string",
            minLength=1,
            maxLength=MAX_ID_LENGTH,
            pattern=r"\S",
            title="CRM record id (account or contact)",
            description=(
                "The Zoho CRM record id (text, e.g. 5725767000000412001) of an account or "
                "contact that is in Books."
            ),
        ),
        "line_item": Param(
            "",
            type="string",
            minLength=1,
            maxLength=MAX_LINE_ITEM,
            pattern=r"\S",
            title="Line item",
            description=f"What is sold, as text on the document (1 to {MAX_LINE_ITEM} characters).",
        ),
        "amount": Param(
            None,
            type="number",
            exclusiveMinimum=0,
            maximum=float(MAX_AMOUNT),
            title="Amount (document total, in the Books organisation's currency)",
            description=(
                "The document total in the organisation's currency, more than 0, at most 2 "
                "decimals (cents): 1250.50."
            ),
        ),
        "document_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Date (YYYY-MM-DD)",
            description="The document's date as YYYY-MM-DD; empty means the day of the run.",
        ),
    },
) as dag:
    # One XCom, the whole report (a dict return would also push each key).
    @task(multiple_outputs=False)
    def check_document() -> dict[str, Any]:
        from crm_books.airflow_tasks import documents

        return documents.check_document()

    @task(multiple_outputs=False)
    def create_document() -> dict[str, Any]:
        from crm_books.airflow_tasks import documents

        return documents.create_document()

    check_document() >> create_document()
