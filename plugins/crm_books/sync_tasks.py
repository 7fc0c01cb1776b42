"""The Airflow task bodies of crm_books_sync: read the task context, build connections, call sync."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from crm_books import settings, sync
from crm_books.connections import crm_client, warehouse_engine

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


def sync_run(context: Context) -> sync.SyncRun:
    """The run's identity, data interval and Params."""
    params = context.get("params") or {}
    modules = tuple(
        m for m in settings.SYNC_MODULES if m in (params.get("modules") or settings.SYNC_MODULES)
    )
    if not modules:
        raise ValueError(
            f"Params 'modules' selects nothing; choose from {list(settings.SYNC_MODULES)}"
        )
    return sync.SyncRun(
        run_id=str(context["run_id"]),
        interval_start=context.get("data_interval_start"),
        interval_end=context.get("data_interval_end"),
        full_refresh=bool(params.get("full_refresh", False)),
        modules=modules,
        max_reject_fraction=float(
            params.get("max_reject_fraction", sync.DEFAULT_MAX_REJECT_FRACTION)
        ),
    )


def ensure_schema() -> list[str]:
    return sync.ensure_schema(warehouse_engine())


def check_organization() -> dict[str, str]:
    return sync.check_organization(warehouse_engine(), crm_client())


def extract(module: str, context: Context) -> dict[str, Any]:
    run = sync_run(context)
    if module not in run.modules:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{module} is not selected in this run's Params")
    return sync.extract_module(warehouse_engine(), crm_client(), run, module)


def transform(context: Context) -> dict[str, int]:
    return sync.transform_run(warehouse_engine(), sync_run(context))


def validate(context: Context) -> dict[str, int]:
    return sync.validate_run(warehouse_engine(), sync_run(context))


def load(context: Context) -> dict[str, dict[str, int]]:
    return sync.load_run(warehouse_engine(), sync_run(context))


def apply_deletions(context: Context) -> dict[str, int]:
    return sync.apply_deletions(warehouse_engine(), sync_run(context))


def flag_duplicates(context: Context) -> dict[str, int]:
    return sync.flag_duplicates(warehouse_engine(), sync_run(context))


def finish(context: Context) -> list[dict[str, Any]]:
    return sync.finish_run(warehouse_engine(), sync_run(context))


def on_failure(context: Context) -> None:
    """Failure callback: the run log says the run failed and why."""
    exc = context.get("exception")
    try:
        sync.mark_run_failed(warehouse_engine(), str(context["run_id"]), f"{exc}")
    except Exception:  # the callback must never mask the task's own error
        log.exception("could not record the failure of run %s", context.get("run_id"))
