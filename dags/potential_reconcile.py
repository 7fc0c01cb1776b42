"""
### potential_reconcile — CRM Deals (Potentials) drive Books estimates and invoices

Every 15 minutes a sensor waits (in reschedule mode, holding no worker slot) until Zoho CRM
(connection `zoho_crm`) reports Deals modified or deleted since the last reconciled high-water
mark (`If-Modified-Since`; 304 means nothing changed), or until a deal waiting for its customer
can go ahead because the customer has landed in the Books warehouse (connection
`books_warehouse`). A quiet period ends the run as **skipped** after 14 minutes, not failed.
Then `reconcile_deals` reads the changed and deleted Deals, plans the document transitions and
applies them with one audit row per action, and the Deals high-water mark, in one transaction.

**Setting** — Airflow Variable `books_potential_workflow`:
- `estimate`: a new deal creates a draft estimate for its customer (the account's customer, or
  the contact's when the deal has no account); won → `accepted`; lost → `declined`.
- `invoice`: a won deal creates a draft invoice; won then lost → `void`; a deal never won and
  then lost gets nothing.
- `off` (also when the Variable is unset): deals are recorded, no document is created or changed.
Any other value fails the run with a message listing the valid values. Switching the setting
applies to later deal changes; documents of the other type are left as they are.

**Won / lost** are stage categories. Defaults: `Closed Won` is won; `Closed Lost` and
`Closed Lost to Competition` are lost; every other stage is open. Override with the optional
Variable `books_potential_stages`, e.g. `{"won": ["Closed Won"], "lost": ["Closed Lost"]}`.

**Manual lock** — once a person changes a document's status in Books (e.g. an invoice to
`paid`), the workflow never touches that document again; each skipped change is logged.

**Pending deals** — a deal whose customer is not in Books yet waits (state `pending` in
`books.deals`, with the reason) and is processed as soon as `crm_books_sync` brings the customer.
A deal deleted in the CRM leaves its documents as they are; the deletion is logged.

Document total ← `Amount`; line item ← `Deal_Name`; numbers are sequential per type
(EST-000001, INV-000001); re-runs never create a second document for a deal and trigger.

**Where to look**: `books.workflow_events` (one row per action, with reason and run id),
`books.deals` (state and pending reason), `books.estimates`, `books.invoices`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable, task

from crm_books.airflow_tasks.alerts import FailureAlert
from crm_books.config import RECONCILE_DAG_ID, dag_settings
from crm_books.deals.sensor import DealChangesSensor

with DAG(
    dag_id=RECONCILE_DAG_ID,
    schedule=CronDataIntervalTimetable("*/15 * * * *", timezone="UTC"),
    **dag_settings(__doc__, "workflow", on_failure_callback=FailureAlert()),
) as dag:
    wait_for_deal_changes = DealChangesSensor(
        task_id="wait_for_deal_changes",
        mode="reschedule",
        poke_interval=timedelta(minutes=1),
        timeout=timedelta(minutes=14),
        soft_fail=True,
    )

    # One XCom, the whole report (a dict return would also push each key).
    @task(multiple_outputs=False)
    def reconcile_deals() -> dict[str, Any]:
        from crm_books.airflow_tasks import reconcile

        return reconcile.reconcile_deals_task()

    wait_for_deal_changes >> reconcile_deals()
