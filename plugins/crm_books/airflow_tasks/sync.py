"""The Airflow task bodies of crm_books_sync: the plan from the context, then steps that take it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from crm_books import config
from crm_books.airflow_tasks.failures import fail_fast, refuse
from crm_books.customers import (
    deletions,
    duplicates_flag,
    organization,
    schema,
    staging,
    transform,
    validate,
)
from crm_books.customers.extract import extract_module
from crm_books.customers.load import load_run
from crm_books.customers.plan import DEFAULT_MAX_REJECT_FRACTION, SyncRun
from crm_books.customers.run_log import finish_run, mark_run_failed, record_refused_run
from crm_books.warehouse.engine import warehouse_engine
from crm_books.zoho.hook import crm_client

if TYPE_CHECKING:
    from airflow.sdk import Context

    from crm_books.customers.staging import Chunk

log = logging.getLogger(__name__)

# A run's plan as tasks pass it (SyncRun.to_dict()), and a step's small JSON result.
Plan = dict[str, Any]
Counts = dict[str, Any]


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


def plan_run() -> Plan:
    """The run's plan: its id, data interval and Params, for the later tasks to take."""
    from airflow.sdk import get_current_context

    plan = requested_run(get_current_context()).to_dict()
    log.info("plan: %s", plan)
    return plan


def checked_run(plan: Plan) -> SyncRun:
    """The planned run; a plan that selects no module, or whose max_reject_fraction is not a
    fraction, fails at once.

    The trigger form and the REST API refuse both (minItems, minimum/maximum), but conf can still
    reach a run that was created without those checks.
    """
    run = SyncRun.from_dict(plan)
    if not run.modules:
        raise refuse(
            f"Params 'modules' is {list(run.modules)!r}: it selects no CRM module, so nothing "
            f"would sync; choose from {list(config.SYNC_MODULES)}"
        )
    if not 0 <= run.max_reject_fraction <= 1:
        raise refuse(
            f"Params 'max_reject_fraction' is {run.max_reject_fraction}: it must be a fraction "
            "from 0 to 1 (0.2 means 20 % of a chunk's rows may be rejected); trigger again "
            "with a value in that range"
        )
    return run


@fail_fast()
def ensure_schema() -> list[str]:
    return schema.ensure_schema(warehouse_engine())


@fail_fast()
def check_organization(plan: Plan) -> dict[str, str]:
    """B7, after the plan is checked: both are refused before anything is read."""
    checked_run(plan)
    return organization.check_organization(warehouse_engine(), crm_client())


@fail_fast()
def extract(module: str, plan: Plan) -> dict[str, Any]:
    run = checked_run(plan)
    if module not in run.modules:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{module} is not selected in this run's Params")
    return extract_module(warehouse_engine(), crm_client(), run, module)


@fail_fast()
def list_chunks(plan: Plan) -> list[Chunk]:
    return staging.list_chunks(warehouse_engine(), checked_run(plan))


@fail_fast()
def transform_chunk(plan: Plan, chunk: Chunk) -> dict[str, int]:
    return transform.transform_chunk(warehouse_engine(), checked_run(plan), chunk)


def transform_records(counts: Sequence[dict[str, int]]) -> dict[str, int]:
    return transform.transformed(_each(counts))


@fail_fast()
def validate_chunk(plan: Plan, chunk: Chunk) -> dict[str, Any]:
    return validate.validate_chunk(warehouse_engine(), checked_run(plan), chunk)


@fail_fast()
def validate_records(plan: Plan, results: Sequence[dict[str, Any]]) -> dict[str, int]:
    return validate.gate(warehouse_engine(), checked_run(plan), _each(results))


def _each(results: Sequence[Counts]) -> list[Counts]:
    """A mapped task's results, read by index: iterating Airflow's lazy XCom sequence reads one
    past the end and logs an error for the XCom it does not find."""
    return [results[i] for i in range(len(results))]


@fail_fast()
def load(plan: Plan) -> dict[str, dict[str, int]]:
    return load_run(warehouse_engine(), checked_run(plan))


@fail_fast()
def apply_deletions(plan: Plan) -> dict[str, int]:
    return deletions.apply_deletions(warehouse_engine(), checked_run(plan))


@fail_fast()
def flag_duplicates(plan: Plan) -> dict[str, int]:
    return duplicates_flag.flag_duplicates(warehouse_engine(), checked_run(plan))


@fail_fast()
def finish(plan: Plan) -> list[dict[str, Any]]:
    return finish_run(warehouse_engine(), checked_run(plan))


def on_failure(context: Context) -> None:
    """Failure callback: the run log says the run failed and why, also for a run refused before
    it had rows (wrong organisation, Params selecting nothing). It reads the context, not the
    plan: the plan task itself may be the one that failed."""
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
