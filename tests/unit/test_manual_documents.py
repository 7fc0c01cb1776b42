"""Checking a document made by hand: every wrong value is named at once, nothing is read."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from crm_books.documents import CrmRecord
from crm_books.manual_documents import DocumentRefused, customer_for, parse_request

TODAY = date(2026, 11, 5)
GOOD = {
    "document_type": "invoice",
    "crm_record_id": " 42 ",
    "line_item": " Training ",
    "amount": 80,
}


def test_a_good_request_is_trimmed_in_cents_and_dated_today_by_default() -> None:
    request = parse_request(GOOD, today=TODAY)
    assert (request.crm_record_id, request.line_item) == ("42", "Training")
    assert request.amount == Decimal("80.00")
    assert request.document_date == TODAY
    dated = parse_request({**GOOD, "amount": "1250.5", "document_date": "2026-10-31"}, today=TODAY)
    assert (dated.amount, dated.document_date) == (Decimal("1250.50"), date(2026, 10, 31))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"document_type": "receipt"}, "document_type must be 'estimate' or 'invoice'"),
        ({"crm_record_id": "  "}, "crm_record_id is empty"),
        ({"crm_record_id": "4\x002"}, "crm_record_id contains a NUL character"),
        ({"line_item": None}, "line_item is empty"),
        ({"line_item": "x" * 501}, "more than 500"),
        ({"amount": 0}, "amount must be more than 0"),
        ({"amount": "NaN"}, "amount must be more than 0"),
        ({"amount": "ten"}, "amount must be a number"),
        ({"amount": True}, "amount must be a number"),
        ({"amount": 10.005}, "more than 2 decimals"),
        ({"amount": 1e17}, "more than the"),
        ({"document_date": "2026-13-01"}, "document_date must be a date as YYYY-MM-DD"),
    ],
)
def test_each_wrong_value_is_refused_naming_it(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(DocumentRefused, match="Nothing was created") as refused:
        parse_request({**GOOD, **change}, today=TODAY)
    assert reason in str(refused.value)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(DocumentRefused) as refused:
        parse_request({"document_type": "x", "amount": -1}, today=TODAY)
    message = str(refused.value)
    for part in ("document_type", "crm_record_id is empty", "line_item is empty", "amount"):
        assert part in message


def _record(customer_id: int, status: str = "active", merged: int | None = None) -> CrmRecord:
    return CrmRecord("42", "account", customer_id, "Acme", status, merged)


def test_the_crm_record_must_be_one_active_customer() -> None:
    request = parse_request(GOOD, today=TODAY)
    assert customer_for(request, [_record(7), _record(7)]) == 7
    for records, reason in (
        ([], "is not in Books"),
        ([_record(7), _record(8)], "several Books customers [7, 8]"),
        ([_record(7, "inactive", merged=3)], "was merged into customer 3"),
        ([_record(7, "inactive")], "is inactive, not active"),
    ):
        with pytest.raises(DocumentRefused, match="Nothing was created") as refused:
            customer_for(request, records)
        assert reason in str(refused.value)
