"""Documents per CRM record (M12) and edits by hand (B10) on SQLite and PostgreSQL: what the
page's search, details and edit form read and write, and that the workflow then leaves the
document alone exactly as after a change made in Books."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from crm_books_ui.documents import document_detail, search_documents
from crm_books_ui.edits import EditRefused, edit_document
from crm_books_ui.queries import load_dashboard
from tests.integration.test_potential_store import add_customer, reconcile, record, rows


def _estimate(engine: Engine, deal: str) -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT estimate_number, status, workflow_status, total FROM books.estimates"
                " WHERE crm_deal_id = :d"
            ),
            {"d": deal},
        ).one()
    return dict(row._mapping)


def test_search_lists_a_records_documents_and_who_set_their_status(warehouse: Engine) -> None:
    add_customer(warehouse, "A1")
    reconcile(warehouse, [record("D1"), record("D2", stage="Closed Won")])
    with warehouse.begin() as conn:
        conn.execute(text("UPDATE books.estimates SET status = 'sent' WHERE crm_deal_id = 'D2'"))
    found = search_documents(warehouse, " A1 ")
    assert [(r.record_type, r.crm_id) for r in found.records] == [("account", "A1")]
    listed = {d.document.document_number: (d.document.status, d.set_by) for d in found.documents}
    assert listed == {"EST-000001": ("draft", "workflow"), "EST-000002": ("sent", "person")}
    # A name finds the record too (one match: its documents at once).
    assert [d.document.document_number for d in search_documents(warehouse, "a1").documents] == [
        "EST-000001",
        "EST-000002",
    ]
    missing = search_documents(warehouse, "nobody-here")
    assert not missing.documents and "not known to Books" in (missing.message or "")


def test_an_edit_from_the_page_locks_the_document_and_is_audited(warehouse: Engine) -> None:
    add_customer(warehouse, "A1")
    reconcile(warehouse, [record("D1", amount=100.0), record("D2", amount=50.0)])
    # Only the total changes: the status stays, so workflow_status is cleared to mark the lock.
    after = edit_document(
        warehouse, "estimate", "EST-000001", status="draft", total="150", user="ops"
    )
    assert (after.status, after.total, after.set_by) == ("draft", Decimal("150.00"), "person")
    assert after.events[-1].action == "manual_edit"
    assert "edited by ops" in (after.events[-1].reason or "")
    assert "total 100.00 -> 150.00" in (after.events[-1].reason or "")
    # Only the status changes: workflow_status keeps what the workflow set, as after a Books edit.
    edit_document(warehouse, "estimate", "EST-000002", status="sent", total="50.00", user="ops")
    assert _estimate(warehouse, "D2")["workflow_status"] == "draft"

    # The potentials are won and their amounts change: the workflow leaves both documents alone.
    counts = reconcile(
        warehouse,
        [record("D1", stage="Closed Won", amount=999.0, minute=5),
         record("D2", stage="Closed Won", amount=999.0, minute=5)],
        run_id="r2",
    )  # fmt: skip
    assert counts.get("skip_locked") == 2
    assert (_estimate(warehouse, "D1")["status"], float(_estimate(warehouse, "D1")["total"])) == (
        "draft",
        150.0,
    )
    assert _estimate(warehouse, "D2")["status"] == "sent"
    detail = document_detail(warehouse, "estimate", "EST-000001")
    assert detail is not None
    assert [e.action for e in detail.events] == ["create", "manual_edit", "skip_locked"]
    locked = {x.document_number for x in load_dashboard(warehouse).locked_documents}
    assert locked == {"EST-000001", "EST-000002"}


@pytest.mark.parametrize(
    ("status", "total", "message"),
    [
        ("paid", "10", "is not allowed for an estimate"),
        ("draft", "-1", "between 0 and"),
        ("draft", "12.345", "more than two decimals"),
        ("draft", "ten", "is not a number"),
    ],
)
def test_a_wrong_edit_is_refused_and_changes_nothing(
    warehouse: Engine, status: str, total: str, message: str
) -> None:
    add_customer(warehouse, "A1")
    reconcile(warehouse, [record("D1")])
    before = rows(warehouse, "SELECT * FROM books.estimates")
    with pytest.raises(EditRefused, match=message):
        edit_document(warehouse, "estimate", "EST-000001", status=status, total=total, user="x")
    assert rows(warehouse, "SELECT * FROM books.estimates") == before
    assert rows(warehouse, "SELECT * FROM books.workflow_events WHERE action = 'manual_edit'") == []
