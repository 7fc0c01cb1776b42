"""Documents by hand (B10): an estimate or invoice for a CRM account or contact that is in Books,
checked before anything is written, numbered in the workflow's sequence, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Engine

from crm_books.config import DOCUMENT_TABLES, DOCUMENT_TYPES, MAX_AMOUNT, MAX_LINE_ITEM

# The Potential workflow's numbers (EST-000001, INV-000042), from the same sequence.
from crm_books.deals.store import document_number
from crm_books.documents import CrmRecord, crm_records
from crm_books.json_text import XcomRecord
from crm_books.warehouse.engine import locked_transaction
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.text import id_problem, text_problem
from crm_books.warehouse.timestamps import db_timestamp, utcnow

# A document made by hand starts as a draft, as the workflow's do.
FIRST_STATUS = "draft"
_CENT = Decimal("0.01")


class DocumentRefused(ValueError):
    """The request cannot make a document; nothing was written. The message names the fix."""


@dataclass(frozen=True)
class DocumentRequest(XcomRecord):
    """A checked request: what to create, for which CRM record."""

    document_type: str
    crm_record_id: str
    line_item: str
    amount: Decimal
    document_date: date


@dataclass(frozen=True)
class CreatedDocument(XcomRecord):
    """The document a run made (or had made on an earlier try)."""

    document_type: str
    document_id: int
    document_number: str
    customer_id: int
    created: bool


# --- checking the request (pure) -----------------------------------------------------------------


def parse_request(params: dict[str, Any], *, today: date) -> DocumentRequest:
    """The form's values as a request; every problem is named at once, nothing is read."""
    problems: list[str] = []
    document_type = params.get("document_type")
    if document_type not in DOCUMENT_TYPES:
        problems.append(f"document_type must be 'estimate' or 'invoice', not {document_type!r}")
    crm_record_id = _text(params.get("crm_record_id"), "crm_record_id", problems, id_problem)
    line_item = _text(params.get("line_item"), "line_item", problems, text_problem)
    if len(line_item) > MAX_LINE_ITEM:
        problems.append(f"line_item is {len(line_item):,} characters, more than {MAX_LINE_ITEM}")
    amount = _amount(params.get("amount"), problems)
    document_date = _date(params.get("document_date"), today, problems)
    if problems:
        raise DocumentRefused("Nothing was created: " + "; ".join(problems) + ".")
    return DocumentRequest(str(document_type), crm_record_id, line_item, amount, document_date)


def _text(value: Any, name: str, problems: list[str], problem_of: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        problems.append(f"{name} is empty: fill it in")
    elif (problem := problem_of(text)) is not None:
        problems.append(f"{name} {problem}")
    return text


def _amount(value: Any, problems: list[str]) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        problems.append(f"amount must be a number such as 1250.50, not {value!r}")
        return Decimal(0)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        problems.append(f"amount must be a number such as 1250.50, not {value!r}")
        return Decimal(0)
    if not amount.is_finite() or amount <= 0:
        problems.append(f"amount must be more than 0, not {value!r}")
    elif amount > MAX_AMOUNT:
        problems.append(f"amount {value!r} is more than the {MAX_AMOUNT} Books can hold")
    elif amount != amount.quantize(_CENT):
        problems.append(f"amount {value!r} has more than 2 decimals (cents)")
    else:
        return amount.quantize(_CENT)
    return Decimal(0)


def _date(value: Any, today: date, problems: list[str]) -> date:
    if value is None or (isinstance(value, str) and not value.strip()):
        return today
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(f"document_date must be a date as YYYY-MM-DD, not {value!r}")
        return today


def customer_for(request: DocumentRequest, records: list[CrmRecord]) -> int:
    """The one active Books customer the CRM record maps to; refused otherwise."""
    found = {r.customer_id: r for r in records}
    if not found:
        raise DocumentRefused(
            f"Nothing was created: CRM record {request.crm_record_id!r} is not in Books (no "
            "customer or contact person has that id). Run crm_books_sync first, or check the id "
            "(the CRM account's or contact's record id)."
        )
    if len(found) > 1:
        raise DocumentRefused(
            f"Nothing was created: CRM record {request.crm_record_id!r} maps to several Books "
            f"customers {sorted(found)}; merge them with books_merge_customers first."
        )
    record = next(iter(found.values()))
    if record.merged_into_customer_id is not None:
        raise DocumentRefused(
            f"Nothing was created: customer {record.customer_id} of CRM record "
            f"{request.crm_record_id!r} was merged into customer "
            f"{record.merged_into_customer_id}; use the master's CRM record id."
        )
    if record.status != "active":
        raise DocumentRefused(
            f"Nothing was created: customer {record.customer_id} of CRM record "
            f"{request.crm_record_id!r} is {record.status}, not active (deleted in the CRM)."
        )
    return record.customer_id


# --- the warehouse edge ---------------------------------------------------------------------------


def check_document(engine: Engine, request: DocumentRequest) -> dict[str, Any]:
    """What the run would create, and for which customer; writes nothing."""
    with engine.connect() as conn:
        records = crm_records(conn, request.crm_record_id)
    customer_id = customer_for(request, records)
    return {**request.as_dict(), "customer_id": customer_id}


def create_document(
    engine: Engine, request: DocumentRequest, *, run_id: str, created_by: str | None
) -> CreatedDocument:
    """Check again and create the document with its number and audit row, in one transaction
    under the warehouse lock. A retry of a run that already made its document returns it."""
    with locked_transaction(engine, "create_document") as conn:
        earlier = run_sql(conn, "documents/select_run_manual_document", {"run_id": run_id}).first()
        if earlier is not None:
            return CreatedDocument(
                str(earlier.document_type),
                int(earlier.document_id),
                str(earlier.document_number),
                int(earlier.customer_id),
                created=False,
            )
        customer_id = customer_for(request, crm_records(conn, request.crm_record_id))
        number = _next_number(conn, request.document_type)
        now = db_timestamp(utcnow())
        document_id = run_sql(
            conn,
            "documents/insert_manual_document",
            {
                "document_number": number,
                "customer_id": customer_id,
                "status": FIRST_STATUS,
                # Text, which both backends read into NUMERIC and DATE exactly (sqlite3 binds
                # no Decimal).
                "total": str(request.amount),
                "date": request.document_date.isoformat(),
                "line_item": request.line_item,
                "now": now,
            },
            names=DOCUMENT_TABLES[request.document_type],
        ).scalar_one()
        run_sql(
            conn,
            "documents/insert_manual_event",
            {
                "run_id": run_id,
                "document_type": request.document_type,
                "document_id": document_id,
                "status": FIRST_STATUS,
                "reason": _audit_reason(request, customer_id, created_by),
                "now": now,
            },
        )
    return CreatedDocument(request.document_type, int(document_id), number, customer_id, True)


def _next_number(conn: Connection, document_type: str) -> str:
    """The next number of the workflow's sequence, reserved until the transaction ends."""
    run_sql(conn, "workflow/insert_document_sequence", {"document_type": document_type})
    last = run_sql(
        conn, "workflow/allocate_document_numbers", {"document_type": document_type, "count": 1}
    ).scalar_one()
    return document_number(document_type, int(last))


def _audit_reason(request: DocumentRequest, customer_id: int, created_by: str | None) -> str:
    return (
        f"created by hand by {created_by or 'an unknown user'} for CRM record "
        f"{request.crm_record_id} (customer {customer_id}): {request.line_item!r}, "
        f"{request.amount}, dated {request.document_date.isoformat()}"
    )
