"""The Airflow task body of potential_reconcile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

from crm_books.deals.reconcile import ReconcileRun, reconcile_deals
from crm_books.deals.settings import read_settings
from crm_books.warehouse.timestamps import utcnow


def reconcile_deals_task() -> dict[str, Any]:
    """The reconcile_deals task of the running DAG run."""
    from airflow.sdk import get_current_context

    return reconcile_task(get_current_context())


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


def reconcile_run(context: Context) -> ReconcileRun:
    """The run's identity, data interval, document date and settings (Variables)."""
    workflow, stages = read_settings()
    when = context.get("logical_date") or context.get("data_interval_end") or utcnow()
    return ReconcileRun(
        run_id=str(context["run_id"]),
        workflow=workflow,
        stages=stages,
        today=when.date(),
        interval_start=context.get("data_interval_start"),
    )
