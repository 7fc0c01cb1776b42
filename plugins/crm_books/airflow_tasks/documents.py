"""The Airflow task bodies of books_create_document: the run's Params and identity from its
context."""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any

from crm_books import manual_documents
from crm_books.airflow_tasks.failures import fail_fast
from crm_books.manual_documents import DocumentRequest, parse_request
from crm_books.warehouse.engine import warehouse_engine
from crm_books.warehouse.timestamps import utcnow

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


def check_document() -> dict[str, Any]:
    """The check_document task of the running DAG run."""
    from airflow.sdk import get_current_context

    return check_document_task(get_current_context())


def create_document() -> dict[str, Any]:
    """The create_document task of the running DAG run."""
    from airflow.sdk import get_current_context

    return create_document_task(get_current_context())


def request_from(context: Context) -> DocumentRequest:
    """The run's Params as a checked request; an empty date means the day the run was asked for."""
    params = dict(context.get("params") or {})
    return parse_request(params, today=_run_day(context))


def _run_day(context: Context) -> date:
    dag_run = context.get("dag_run")
    when = context.get("logical_date") or getattr(dag_run, "run_after", None) or utcnow()
    return when.date()


@fail_fast()
def check_document_task(context: Context) -> dict[str, Any]:
    """Check every value and that the CRM record's customer is in Books and active; no write."""
    engine = warehouse_engine()
    try:
        planned = manual_documents.check_document(engine, request_from(context))
    finally:
        engine.dispose()
    log.info("checked, would create: %s", planned)
    return planned


@fail_fast()
def create_document_task(context: Context) -> dict[str, Any]:
    """Create the document (checked again in its transaction), numbered and audited."""
    dag_run = context.get("dag_run")
    engine = warehouse_engine()
    try:
        made = manual_documents.create_document(
            engine,
            request_from(context),
            run_id=str(context["run_id"]),
            created_by=getattr(dag_run, "triggering_user_name", None),
        )
    finally:
        engine.dispose()
    verb = "created" if made.created else "already created by an earlier try:"
    log.info(
        "%s %s %s for customer %s", verb, made.document_type, made.document_number, made.customer_id
    )
    return made.as_dict()
