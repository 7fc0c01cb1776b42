"""The Airflow task bodies of crm_books_sync: read the task context, build connections, call sync."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from crm_books import config
from crm_books.airflow_tasks.failures import fail_fast, refuse
from crm_books.customers import deletions, duplicates_flag, organization, schema
from crm_books.customers.extract import extract_module
from crm_books.customers.load import load_run
from crm_books.customers.plan import DEFAULT_MAX_REJECT_FRACTION, SyncRun
from crm_books.customers.run_log import finish_run, mark_run_failed, record_refused_run
from crm_books.customers.transform import transform_run
from crm_books.customers.validate import validate_run
from crm_books.warehouse.engine import warehouse_engine
from crm_books.zoho.hook import crm_client

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


def sync_run(context: Context) -> SyncRun:
    """The run's identity, data interval and Params; Params that select no module fail at once.

    The trigger form refuses an empty ``modules`` (minItems), but conf can still reach a run that
    was created without that check.
    """
    run = requested_run(context)
    if not run.modules:
        raise refuse(
            f"Params 'modules' is {(context.get('params') or {}).get('modules')!r}: it selects "
            f"no CRM module, so nothing would sync; choose from {list(config.SYNC_MODULES)}"
        )
    return run


def requested_run(context: Context) -> SyncRun:
    """The run as its Params ask for it, unchecked (``modules`` may be empty)."""
    params = context.get("params") or {}
    selected = params.get("modules")
    modules = tuple(
        m
        for m in config.SYNC_MODULES
        if m in (config.SYNC_MODULES if selected is None else selected)
    )
    return SyncRun(
        run_id=str(context["run_id"]),
        interval_start=context.get("data_interval_start"),
        interval_end=context.get("data_interval_end"),
        full_refresh=bool(params.get("full_refresh", False)),
        modules=modules,
        max_reject_fraction=float(params.get("max_reject_fraction", DEFAULT_MAX_REJECT_FRACTION)),
    )


@fail_fast()
def ensure_schema() -> list[str]:
    return schema.ensure_schema(warehouse_engine())


@fail_fast()
def check_organization(context: Context) -> dict[str, str]:
    """B7, after the Params are checked: both are refused before anything is read."""
    sync_run(context)
    return organization.check_organization(warehouse_engine(), crm_client())


@fail_fast()
def extract(module: str, context: Context) -> dict[str, Any]:
    run = sync_run(context)
    if module not in run.modules:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{module} is not selected in this run's Params")
    return extract_module(warehouse_engine(), crm_client(), run, module)


@fail_fast()
def transform(context: Context) -> dict[str, int]:
    return transform_run(warehouse_engine(), sync_run(context))


@fail_fast()
def validate(context: Context) -> dict[str, int]:
    return validate_run(warehouse_engine(), sync_run(context))


@fail_fast()
def load(context: Context) -> dict[str, dict[str, int]]:
    return load_run(warehouse_engine(), sync_run(context))


@fail_fast()
def apply_deletions(context: Context) -> dict[str, int]:
    return deletions.apply_deletions(warehouse_engine(), sync_run(context))


@fail_fast()
def flag_duplicates(context: Context) -> dict[str, int]:
    return duplicates_flag.flag_duplicates(warehouse_engine(), sync_run(context))


@fail_fast()
def finish(context: Context) -> list[dict[str, Any]]:
    return finish_run(warehouse_engine(), sync_run(context))


def on_failure(context: Context) -> None:
    """Failure callback: the run log says the run failed and why, also for a run refused before
    it had rows (wrong organisation, Params selecting nothing)."""
    exc = context.get("exception")
    try:
        engine = warehouse_engine()
        mark_run_failed(engine, str(context["run_id"]), f"{exc}")
        run = requested_run(context)
        record_refused_run(
            engine, replace(run, modules=run.modules or config.SYNC_MODULES), f"{exc}"
        )
    except Exception:  # the callback must never mask the task's own error
        log.exception("could not record the failure of run %s", context.get("run_id"))
