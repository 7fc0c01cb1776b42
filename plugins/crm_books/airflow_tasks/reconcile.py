"""The Airflow task body of potential_reconcile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

from crm_books.deals.reconcile import reconcile_deals, reconcile_run


def reconcile_task(context: Context) -> dict[str, Any]:
    """Body of the reconcile_deals task; a bad setting or connection fails it at once."""
    from crm_books.airflow_tasks.failures import fail_fast
    from crm_books.warehouse.engine import warehouse_engine
    from crm_books.zoho.hook import crm_client

    with fail_fast():
        run = reconcile_run(context)
        engine = warehouse_engine()
        try:
            return reconcile_deals(engine, crm_client(), run)
        finally:
            engine.dispose()
