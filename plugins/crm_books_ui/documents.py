"""M12 on the page: a CRM record's estimates and invoices, a document's details and audit trail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from crm_books.config import DOCUMENT_TYPES
from crm_books.documents import CrmDocument, CrmRecord, UnknownCrmRecord, crm_documents
from crm_books.warehouse.sql_files import run_sql
from crm_books_ui.rows import from_row

SEARCH_LIMIT = 25


def set_by(status: str, workflow_status: str | None) -> str:
    """Who set the status: the workflow while it is still the one it set, else a person (B8)."""
    return "workflow" if workflow_status is not None and status == workflow_status else "person"


@dataclass(frozen=True)
class ListedDocument:
    document: CrmDocument
    set_by: str


@dataclass(frozen=True)
class NameMatch:
    """A CRM record whose name matched the search, to pick from."""

    crm_id: str
    record_type: str
    name: str
    customer_id: int
    customer_name: str


@dataclass(frozen=True)
class DocumentSearch:
    """What the search box found: one CRM record's documents, or records to pick from."""

    query: str
    records: tuple[CrmRecord, ...] = ()
    documents: tuple[ListedDocument, ...] = ()
    matches: tuple[NameMatch, ...] = ()
    message: str | None = None


@dataclass(frozen=True)
class AuditEvent:
    run_id: str
    workflow: str
    action: str
    from_status: str | None
    to_status: str | None
    reason: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class DocumentDetail:
    document_type: str
    document_id: int
    document_number: str
    status: str
    workflow_status: str | None
    total: Decimal
    date: date
    line_item: str | None
    crm_deal_id: str | None
    deal_name: str | None
    deal_stage: str | None
    customer_id: int
    customer_name: str
    customer_crm_id: str | None
    updated_at: datetime | None
    events: tuple[AuditEvent, ...]

    @property
    def set_by(self) -> str:
        return set_by(self.status, self.workflow_status)


def search_documents(engine: Engine, query: str) -> DocumentSearch:
    """A CRM account or contact id lists its documents; any other text searches names."""
    query = query.strip()
    if not query:
        return DocumentSearch(query="")
    try:
        records, documents = crm_documents(engine, query)
    except UnknownCrmRecord as exc:
        matches = _name_matches(engine, query)
        if len(matches) == 1:
            return search_documents(engine, matches[0].crm_id)
        message = None if matches else f"{exc}; no CRM account or contact name contains it either"
        return DocumentSearch(query=query, matches=tuple(matches), message=message)
    with engine.connect() as conn:
        setters = _setters(conn, [d.document_number for d in documents])
    return DocumentSearch(
        query=query,
        records=tuple(records),
        documents=tuple(
            ListedDocument(d, setters.get((d.document_type, d.document_number), "person"))
            for d in documents
        ),
    )


def _name_matches(engine: Engine, query: str) -> list[NameMatch]:
    pattern = "%" + query.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
    with engine.connect() as conn:
        rows = run_sql(
            conn, "ui/search_crm_records", {"pattern": pattern, "limit": SEARCH_LIMIT}
        ).mappings()
        return [from_row(NameMatch, r) for r in rows]


def _setters(conn: Connection, numbers: list[str]) -> dict[tuple[str, str], str]:
    if not numbers:
        return {}
    rows = run_sql(conn, "ui/select_document_setters", {"numbers": numbers}).mappings()
    return {
        (str(r["document_type"]), str(r["document_number"])): set_by(
            str(r["status"]), r["workflow_status"]
        )
        for r in rows
    }


def load_document(conn: Connection, document_type: str, number: str) -> DocumentDetail | None:
    """One document with its customer, deal and audit trail; None when there is no such one."""
    if document_type not in DOCUMENT_TYPES:
        return None
    params = {"document_type": document_type, "number": number}
    row = run_sql(conn, "ui/select_document", params).mappings().first()
    if row is None:
        return None
    return _detail(row, _events(conn, row))


def document_detail(engine: Engine, document_type: str, number: str) -> DocumentDetail | None:
    with engine.connect() as conn:
        return load_document(conn, document_type, number)


def _events(conn: Connection, row: Mapping[str, Any]) -> tuple[AuditEvent, ...]:
    params = {
        "document_type": row["document_type"],
        "document_id": int(row["document_id"]),
        "crm_deal_id": row["crm_deal_id"] or "",
    }
    rows = run_sql(conn, "ui/select_document_events", params).mappings()
    return tuple(from_row(AuditEvent, e) for e in rows)


def _detail(row: Mapping[str, Any], events: tuple[AuditEvent, ...]) -> DocumentDetail:
    return from_row(
        DocumentDetail,
        row,
        deal_stage=row["stage"],
        customer_name=str(row["contact_name"]),
        customer_crm_id=row["crm_account_id"] or row["crm_contact_id"],
        events=events,
    )
