"""B10 on the page: a person edits a document's status or total; the workflow leaves it alone."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine

from crm_books.config import DOCUMENT_TABLES
from crm_books.warehouse.engine import locked_transaction
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.timestamps import db_timestamp, utcnow
from crm_books_ui.documents import DocumentDetail, load_document

# The statuses books.estimates and books.invoices allow (their CHECK constraints).
STATUSES = {
    "estimate": ("draft", "sent", "invoiced", "accepted", "declined", "expired"),
    "invoice": ("draft", "sent", "overdue", "paid", "void", "unpaid", "partially_paid"),
}
MAX_TOTAL = Decimal("9999999999999999.99")  # NUMERIC(18, 2)


class EditRefused(ValueError):
    """The edit names a status or total the document cannot have; nothing was changed."""


class NoSuchDocument(LookupError):
    """No estimate or invoice has this number."""


def parse_total(raw: str) -> Decimal:
    """A total as typed (``1234.5``, ``1,234.50``): at least 0, at most two decimals."""
    try:
        total = Decimal(raw.replace(",", "").strip())
    except InvalidOperation:
        raise EditRefused(f"total {raw!r} is not a number: type it like 1234.50") from None
    if not total.is_finite() or total < 0 or total > MAX_TOTAL:
        raise EditRefused(f"total {raw!r} must be between 0 and {MAX_TOTAL:,}")
    if total != total.quantize(Decimal("0.01")):
        raise EditRefused(f"total {raw!r} has more than two decimals (cents)")
    return total.quantize(Decimal("0.01"))


def check_status(document_type: str, status: str) -> str:
    allowed = STATUSES.get(document_type, ())
    if status not in allowed:
        raise EditRefused(
            f"status {status!r} is not allowed for an {document_type}: choose one of "
            + ", ".join(allowed)
        )
    return status


def _reason(user: str, before: DocumentDetail, status: str, total: Decimal) -> str:
    changes = []
    if status != before.status:
        changes.append(f"status '{before.status}' -> '{status}'")
    if total != before.total:
        changes.append(f"total {before.total:.2f} -> {total:.2f}")
    what = "; ".join(changes) or "saved without changes"
    return f"edited by {user} on the CRM -> Books page: {what}; the workflow leaves it alone now"


def edit_document(
    engine: Engine, document_type: str, number: str, *, status: str, total: str, user: str
) -> DocumentDetail:
    """Set the status and total as a person would in Books, lock the document from the
    workflow (B8/B10) and audit the change in workflow_events, in one transaction."""
    new_status = check_status(document_type, status)
    new_total = parse_total(total)
    now = utcnow()
    with locked_transaction(engine, "edit_document") as conn:
        before = load_document(conn, document_type, number)
        if before is None:
            raise NoSuchDocument(f"there is no {document_type} numbered {number!r} in Books")
        run_sql(
            conn,
            "ui/update_document_by_hand",
            {
                "document_type": document_type,
                "document_id": before.document_id,
                "status": new_status,
                "total": str(new_total),  # sqlite3 binds no Decimal; both cast text
                "from_status": before.status,
                "crm_deal_id": before.crm_deal_id or "",
                "run_id": f"page__{now.isoformat(timespec='seconds')}",
                "reason": _reason(user, before, new_status, new_total),
                "now": db_timestamp(now),
            },
            names=DOCUMENT_TABLES[before.document_type],
        )
        after = load_document(conn, document_type, number)
    assert after is not None
    return after
