"""Decoding only the mapped fields (parse_payloads(fields=...), the transform's path) maps and
rejects every payload exactly as decoding whole records does, odd JSON and odd unicode included."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from crm_books import config
from crm_books.customers.mapping import MAPPED_FIELDS, transform_accounts, transform_contacts
from crm_books.customers.payloads import parse_payloads

T = "2026-03-01T10:00:00+00:00"


def _record(**fields: Any) -> str:
    return json.dumps({"Modified_Time": T, **fields}, ensure_ascii=False)


ODD_PAYLOADS: list[Any] = [
    _record(id="1", Account_Name="Plain", Phone="+1 555 0100", Industry="not mapped"),
    _record(id="2", Account_Name="Zu\u0308rich NFD", Billing_City="\u00a0 Pune \u200b"),
    _record(id="3", Account_Name="😀 emoji ÉCOLE Straße 東京都", Last_Name="Ünï"),
    '{"id": "4", "Account_Name": "lone \\ud800 escape", "Modified_Time": "' + T + '"}',
    '{"id": "5", "Industry": "lone \\udc80 in a field not mapped", "Modified_Time": "' + T + '"}',
    '{"id": "6", "Phone": NaN, "Modified_Time": "' + T + '"}',
    '{"id": "7", "Phone": 1e999, "Modified_Time": "' + T + '"}',
    '{"id": "8", "Industry": 1e999, "Modified_Time": "' + T + '"}',
    '{"id": "9", "Phone": "first", "Phone": "second", "Modified_Time": "' + T + '"}',
    '{"id": "10", "Phone": "nul \\u0000 inside", "Modified_Time": "' + T + '"}',
    '{"id": "11", "Industry": ' + "[" * 50 + "]" * 50 + ', "Modified_Time": "' + T + '"}',
    _record(id=12, Account_Name={"name": "Acme", "id": "99"}, Phone=5550100, Fax=2.5),
    _record(id="  ", Account_Name="blank id"),
    _record(Account_Name="no id"),
    _record(id=True, Account_Name="bool id"),
    _record(id="13", Account_Name=["a", "list"], Billing_Code=411001, Website=False),
    '{"id": "14", "Account_Name": "trailing"} and more',
    '{"id": "15", "Account_Name": ',
    "[1, 2]",
    '"text"',
    "null",
    "",
    None,
    42,
    b'{"id": "16", "Account_Name": "bytes", "Modified_Time": "' + T.encode() + b'"}',
    b'{"id": "17", "Industry": "\xff not UTF-8", "Modified_Time": "' + T.encode() + b'"}',
    '{"id": "18", "Other": "ctrl \x01 char", "Modified_Time": "' + T + '"}',
    _record(id="19", Account_Name="time without offset", Modified_Time="2026-03-01T10:00:00"),
]


def _frames(result: Any) -> list[pd.DataFrame]:
    return [
        getattr(result, name)
        for name in ("customers", "contact_persons", "rejects")
        if hasattr(result, name)
    ]


@pytest.mark.parametrize("module", [config.ACCOUNTS, config.CONTACTS])
def test_fields_decode_maps_and_rejects_odd_payloads_like_the_whole_decode(module: str) -> None:
    whole = parse_payloads(ODD_PAYLOADS, module=module)
    fields = parse_payloads(ODD_PAYLOADS, module=module, fields=MAPPED_FIELDS[module])
    pd.testing.assert_frame_equal(fields.rejects, whole.rejects)
    assert fields.records["raw_payload"].tolist() == whole.records["raw_payload"].tolist()
    transform = transform_accounts if module == config.ACCOUNTS else transform_contacts
    for got, expected in zip(
        _frames(transform(fields.records)), _frames(transform(whole.records)), strict=True
    ):
        pd.testing.assert_frame_equal(got, expected)


def test_fields_decode_keeps_odd_unicode_as_decoded_and_rejects_what_cannot_be_stored() -> None:
    parsed = parse_payloads(ODD_PAYLOADS, module="Accounts", fields=MAPPED_FIELDS["Accounts"])
    result = transform_accounts(parsed.records)
    names = dict(
        zip(result.customers["crm_account_id"], result.customers["company_name"], strict=True)
    )
    assert names["2"] == "Zürich NFD" and len(names["2"]) == len("Zürich NFD")  # NFC
    assert names["3"] == "😀 emoji ÉCOLE Straße 東京都"
    assert result.customers.set_index("crm_account_id").loc["2", "billing_city"] == "Pune"
    assert "5" in names  # an unstorable value in a field that is not mapped does not matter
    reasons = dict(zip(result.rejects["crm_id"], result.rejects["reason"], strict=True))
    assert reasons["4"] == "Account_Name contains an unpaired surrogate U+D800"
    assert reasons["10"].startswith("Phone contains a NUL character")
    parse_reasons = parsed.rejects["reason"].tolist()
    assert parse_reasons.count("record has no id") == 3  # blank, missing and boolean ids
    # cut short, trailing text, empty, bytes that are not UTF-8, a control character
    assert sum("not valid JSON" in r for r in parse_reasons) == 5
