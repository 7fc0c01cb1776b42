"""The Airflow task bodies of books_merge_customers: the run's Params and identity from its
context."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context
from crm_books.customers.merge import dry_run, merge
from crm_books.customers.merge_rules import (
    CONFIRM_WORD,
    MergeRefused,
    MergeRequest,
    check_confirmation,
    parse_request,
)

log = logging.getLogger(__name__)


def check_merge() -> dict[str, Any]:
    """The check_merge task of the running DAG run."""
    from airflow.sdk import get_current_context

    return check_merge_task(get_current_context())


def merge_customers() -> dict[str, Any]:
    """The merge_customers task of the running DAG run."""
    from airflow.sdk import get_current_context

    return merge_customers_task(get_current_context())


def request_from(context: Context) -> tuple[MergeRequest, bool]:
    """The run's request; a real merge without its confirmation is refused first."""
    params = context.get("params") or {}
    dry = bool(params.get("dry_run", True))
    check_confirmation(dry, params.get("confirm"))
    ids = customer_ids(params.get("merge_customer_ids"))
    return parse_request(params.get("master_customer_id"), ids), dry


def customer_ids(value: Any) -> Any:
    """The form's ids as a list: "1058, 1059" (the text box) and [1058, 1059] (REST) alike."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def refuse(exc: MergeRefused) -> Exception:
    # A broken rule fails the task at once: retrying cannot make the request valid.
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(str(exc))


def check_merge_task(context: Context) -> dict[str, Any]:
    """Check the rules and report what the merge would move; changes nothing."""
    from crm_books.warehouse.engine import warehouse_engine

    try:
        request, dry = request_from(context)
        report = dry_run(warehouse_engine(), request)
        if not dry:
            log.info("confirmed with %s: merge_customers applies this next", CONFIRM_WORD)
        return report.as_dict()
    except MergeRefused as exc:
        raise refuse(exc) from exc


def merge_customers_task(context: Context) -> dict[str, Any]:
    """Merge for real, unless the run is a dry run (then the task is skipped)."""
    from crm_books.warehouse.engine import warehouse_engine

    try:
        request, dry = request_from(context)
        if dry:
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException("dry run: nothing changed (see check_merge for the report)")
        dag_run = context.get("dag_run")
        merged_by = getattr(dag_run, "triggering_user_name", None) if dag_run else None
        report = merge(
            warehouse_engine(), request, run_id=str(context["run_id"]), merged_by=merged_by
        )
        return report.as_dict()
    except MergeRefused as exc:
        raise refuse(exc) from exc
