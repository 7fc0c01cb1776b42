"""Estimates and invoices Books holds for one CRM account or contact id (B9), as rows, text or JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from crm_books.json_text import XcomRecord
from crm_books.warehouse.sql_files import run_sql

_CENT = Decimal("0.01")


class UnknownCrmRecord(LookupError):
    """Books knows no account, contact or contact person with this CRM id."""


@dataclass(frozen=True)
class CrmRecord:
    """What a CRM id maps to in Books."""

    crm_id: str
    record_type: str  # 'account' or 'contact'
    customer_id: int
    customer_name: str
    status: str
    merged_into_customer_id: int | None


@dataclass(frozen=True)
class CrmDocument(XcomRecord):
    document_type: str  # 'estimate' or 'invoice'
    document_number: str
    status: str
    total: Decimal
    date: date
    customer_id: int


def _money(value: Any) -> Decimal:
    # SQLite hands NUMERIC back as float or int, PostgreSQL as Decimal; both print as cents.
    return Decimal(str(value)).quantize(_CENT)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def crm_records(conn: Connection, crm_id: str) -> list[CrmRecord]:
    """The Books records a CRM id maps to: its customer, or the customer it is a contact of."""
    crm_id = crm_id.strip()
    return [
        CrmRecord(
            crm_id=crm_id,
            record_type=str(r.record_type),
            customer_id=int(r.customer_id),
            customer_name=str(r.contact_name),
            status=str(r.status),
            merged_into_customer_id=(
                None if r.merged_into_customer_id is None else int(r.merged_into_customer_id)
            ),
        )
        for r in run_sql(conn, "documents/select_crm_record", {"crm_id": crm_id})
    ]


def crm_documents(engine: Engine, crm_id: str) -> tuple[list[CrmRecord], list[CrmDocument]]:
    """The Books records a CRM id maps to and every document they hold; UnknownCrmRecord if none."""
    crm_id = crm_id.strip()
    with engine.connect() as conn:
        records = crm_records(conn, crm_id)
        if not records:
            raise UnknownCrmRecord(
                f"CRM id {crm_id!r} is not known to Books: no customer or contact person has it "
                "(not synced yet, rejected, or deleted without transactions)"
            )
        documents = [
            CrmDocument(
                document_type=str(r.document_type),
                document_number=str(r.document_number),
                status=str(r.status),
                total=_money(r.total),
                date=_day(r.date),
                customer_id=int(r.customer_id),
            )
            for r in run_sql(conn, "documents/select_crm_documents", {"crm_id": crm_id})
        ]
    return records, _unique(documents)


def _unique(documents: list[CrmDocument]) -> list[CrmDocument]:
    # One id could reach the same document twice (as a customer and as a contact person).
    return list(dict.fromkeys(documents))


def describe(record: CrmRecord) -> str:
    line = (
        f"CRM {record.record_type} {record.crm_id} -> Books customer {record.customer_id}"
        f" ({record.customer_name}, {record.status})"
    )
    if record.merged_into_customer_id is not None:
        line += f", merged into customer {record.merged_into_customer_id}"
    return line


def format_text(records: list[CrmRecord], documents: list[CrmDocument]) -> str:
    """A plain table a CRM user can read."""
    lines = [describe(r) for r in records]
    if not documents:
        lines.append("no estimates or invoices in Books for this record")
        return "\n".join(lines)
    header = ("type", "number", "status", "total", "date")
    rows = [
        (d.document_type, d.document_number, d.status, f"{d.total:.2f}", d.date.isoformat())
        for d in documents
    ]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        lines.append(
            "  ".join(
                str(v).rjust(w) if i == 3 else str(v).ljust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    return "\n".join(lines)


def format_json(records: list[CrmRecord], documents: list[CrmDocument]) -> str:
    return json.dumps(
        {
            "crm_id": records[0].crm_id if records else None,
            "records": [
                {
                    "record_type": r.record_type,
                    "customer_id": r.customer_id,
                    "customer_name": r.customer_name,
                    "status": r.status,
                    "merged_into_customer_id": r.merged_into_customer_id,
                }
                for r in records
            ],
            "documents": [d.as_dict() for d in documents],
        },
        indent=2,
    )
