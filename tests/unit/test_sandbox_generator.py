"""The sandbox's data generator: deterministic for a seed, realistic, and messy on purpose."""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_books import config
from crm_books.json_text import json_bytes, json_text
from zoho_sandbox import SandboxConfig, SandboxServer
from zoho_sandbox.__main__ import main
from zoho_sandbox.generator import HISTORY_DAYS, Generator, iso_time
from zoho_sandbox.metadata import DEAL_STAGES, FIELD_NAMES
from zoho_sandbox.store import TimeFormat

ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
EMAIL = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$", re.IGNORECASE)
LEGAL = re.compile(
    r"\b(inc|corp|corporation|ltd|limited|llc|gmbh|s\.a|pvt|co|plc)\b\.?", re.IGNORECASE
)


def _sample(seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    gen = Generator(seed=seed, accounts=2000, contacts=5000, deals=1000, anchor=ANCHOR)
    return {m: list(gen.iter_records(m)) for m in gen.sizes}


@pytest.fixture(scope="module")
def sample() -> dict[str, list[dict[str, Any]]]:
    return _sample()


def _strings(records: list[dict[str, Any]]) -> list[str]:
    return [v for r in records for v in r.values() if isinstance(v, str)]


def _normalised(name: str) -> str:
    """A company name without case, punctuation, spacing or legal suffix."""
    return re.sub(r"[^0-9a-z]+", "", LEGAL.sub("", name.lower()))


def test_same_seed_same_records_other_seed_other_records(
    sample: dict[str, list[dict[str, Any]]],
) -> None:
    assert _sample(7) == sample
    other = _sample(8)
    for module, records in sample.items():
        differing = sum(a != b for a, b in zip(records, other[module], strict=True))
        assert differing > 0.9 * len(records), module


def test_records_have_zoho_shapes(sample: dict[str, list[dict[str, Any]]]) -> None:
    ids = [r["id"] for records in sample.values() for r in records]
    assert len(ids) == len(set(ids)) == 8000
    assert all(len(i) == 19 and i.isdigit() for i in ids)
    for module, records in sample.items():
        assert set(records[0]) <= FIELD_NAMES[module]
        assert set(config.MODULE_FIELDS[module]) <= set(records[0])
        for r in records:
            created = datetime.fromisoformat(r["Created_Time"])
            modified = datetime.fromisoformat(r["Modified_Time"])
            assert created <= modified <= ANCHOR
            assert (ANCHOR - created).days <= HISTORY_DAYS
    # Modified_Time is spread over months, not bunched
    months = {r["Modified_Time"][:7] for r in sample[config.CONTACTS]}
    assert len(months) >= 5


def test_near_duplicate_company_names(sample: dict[str, list[dict[str, Any]]]) -> None:
    groups: dict[str, set[str]] = {}
    for r in sample[config.ACCOUNTS]:
        groups.setdefault(_normalised(r["Account_Name"]), set()).add(r["Account_Name"])
    variants = [names for key, names in groups.items() if key and len(names) > 1]
    assert len(variants) >= 20
    # modest: most companies are not duplicated
    assert len(variants) < 0.1 * len(sample[config.ACCOUNTS])
    kinds = {
        "case": any(any(n.isupper() for n in names) for names in variants),
        "spacing": any(any("  " in n or n != n.strip() for n in names) for names in variants),
        "punctuation": any(any("," in n for n in names) for names in variants),
    }
    assert all(kinds.values()), kinds


def test_unicode_and_right_to_left_names(sample: dict[str, list[dict[str, Any]]]) -> None:
    text = _strings(sample[config.ACCOUNTS]) + _strings(sample[config.CONTACTS])
    joined = "".join(text)
    assert re.search("[\u0600-\u06ff]", joined), "Arabic"
    assert re.search("[\u0590-\u05ff]", joined), "Hebrew"
    assert re.search("[\u4e00-\u9fff]", joined), "CJK"
    assert any(unicodedata.combining(ch) for ch in joined), "combining accents"
    assert any(ord(ch) >= 0x1F300 for ch in joined), "emoji"


def test_contact_messiness(sample: dict[str, list[dict[str, Any]]]) -> None:
    contacts = sample[config.CONTACTS]
    account_ids = {r["id"] for r in sample[config.ACCOUNTS]}
    emails = [c["Email"] for c in contacts if c["Email"]]
    shared = len(emails) - len(set(emails))
    invalid = [e for e in emails if not EMAIL.match(e)]
    no_last = [c for c in contacts if not c["Last_Name"]]
    no_account = [c for c in contacts if c["Account_Name"] is None]
    dangling = [
        c for c in contacts if c["Account_Name"] and c["Account_Name"]["id"] not in account_ids
    ]
    n = len(contacts)
    for label, count in {
        "shared emails": shared,
        "invalid emails": len(invalid),
        "missing last names": len(no_last),
        "without account": len(no_account),
        "dangling account ids": len(dangling),
    }.items():
        assert 0.005 * n < count < 0.25 * n, (label, count)
    assert any(e != e.lower() and EMAIL.match(e) for e in emails), "mixed-case emails"
    # a lookup names its account as that account is named
    by_id = {r["id"]: r["Account_Name"] for r in sample[config.ACCOUNTS]}
    linked = [c["Account_Name"] for c in contacts if c["Account_Name"]]
    assert all(link["name"] == by_id[link["id"]] for link in linked if link["id"] in by_id)


def test_hostile_and_padded_strings(sample: dict[str, list[dict[str, Any]]]) -> None:
    text = [s for records in sample.values() for s in _strings(records)]
    assert any("'; DROP TABLE customers; --" in s for s in text)
    assert any('"' in s and ";" in s for s in text)
    assert any(len(s) > 255 for s in text)
    assert any(s and s != s.strip() for s in text), "whitespace padding"
    assert any(s == "" for s in text), "empty strings"


def test_deals_cover_every_stage_and_lookups(sample: dict[str, list[dict[str, Any]]]) -> None:
    deals = sample[config.DEALS]
    assert {d["Stage"] for d in deals} == set(DEAL_STAGES)
    small = Generator(seed=1, accounts=3, contacts=3, deals=10, anchor=ANCHOR)
    assert [d["Stage"] for d in small.iter_records(config.DEALS)] == list(DEAL_STAGES)
    assert any(d["Account_Name"] is None and d["Contact_Name"] for d in deals)
    assert any(d["Account_Name"] and d["Contact_Name"] for d in deals)
    assert any(d["Amount"] is None for d in deals)
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d["Closing_Date"]) for d in deals)


def test_large_modules_are_lazy() -> None:
    """A million-record module costs nothing until a record is asked for."""
    gen = Generator(seed=7, accounts=1_000_000, contacts=1_000_000, deals=0, anchor=ANCHOR)
    last = gen.body(config.CONTACTS, 999_999)
    assert last == gen.body(config.CONTACTS, 999_999)
    link = last["Account_Name"]
    if link is not None and int(link["id"]) <= gen.record_id(config.ACCOUNTS, 999_999):
        index = int(link["id"]) - gen.record_id(config.ACCOUNTS, 0)
        assert gen.account_name(index) == link["name"]
    names = {gen.account_name(i) for i in range(900_000, 900_500)}
    assert len(names) > 450  # names stay distinct far into a large module


def test_generate_command_writes_a_data_set_serve_can_load(tmp_path: Path) -> None:
    out = tmp_path / "crm.json"
    assert main(["generate", "--seed", "3", "--accounts", "20", "--contacts", "30",
                 "--deals", "10", "--out", str(out)]) == 0  # fmt: skip
    data = json.loads(out.read_text(encoding="utf-8"))
    assert {m: len(v) for m, v in data.items()} == {"Accounts": 20, "Contacts": 30, "Deals": 10}
    loaded = SandboxServer(SandboxConfig(accounts=0, contacts=0, deals=0))
    assert loaded.load_records(data) == 60
    original = data[config.CONTACTS][7]
    again = loaded.store.get(config.CONTACTS, original["id"])
    assert again is not None
    assert {k: again[k] for k in original if k not in ("Created_Time", "Modified_Time")} == {
        k: v for k, v in original.items() if k not in ("Created_Time", "Modified_Time")
    }
    # the same moments, shown in the org's time zone
    assert datetime.fromisoformat(again["Modified_Time"]) == datetime.fromisoformat(
        original["Modified_Time"]
    )


def test_output_for_a_seed_is_pinned_byte_for_byte() -> None:
    """Benchmarks and stories compare runs on seed 7: its records must never change, including
    names past the first cycle of unique account names (552,960 accounts)."""
    digest = hashlib.sha256()
    gen = Generator(seed=7, accounts=3000, contacts=3000, deals=3000, anchor=ANCHOR)
    for module in gen.sizes:
        for record in gen.iter_records(module):
            digest.update(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    big = Generator(seed=7, accounts=5_000_000, contacts=5_000_000, deals=0, anchor=ANCHOR)
    for i in range(0, 5_000_000, 4999):
        pair = [big.account(i), big.contact(i)]
        digest.update(json.dumps(pair, ensure_ascii=False).encode() + b"\n")
    assert digest.hexdigest() == "c5504f4d7852f2a295a29acc2d1d5a598bbd1047fc6c100239830756ab0682c7"


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(_JSON_VALUES)
def test_responses_are_encoded_exactly_as_json_dumps_encodes_them(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert json_bytes(value) == expected
    assert json_bytes({"data": [value]}) == b'{"data":[' + expected + b"]}"


def test_generated_records_may_take_the_unchecked_fast_path() -> None:
    """Pages of generated records skip the plain-value check; this is why that is safe."""
    gen = Generator(seed=11, accounts=1500, contacts=1500, deals=1500, anchor=ANCHOR)
    for module in gen.sizes:
        records = list(gen.iter_records(module))
        expected = json.dumps(records, ensure_ascii=False, separators=(",", ":")).encode()
        assert json_bytes(records, plain=True) == expected


@given(_JSON_VALUES)
def test_text_utf8_cannot_carry_is_written_as_escapes_that_decode_back(value: Any) -> None:
    """Lone surrogates (a CRM value can hold one) as the \\udXXX escapes Zoho serves them as."""
    wrapped = {"x": ["\ud800", value, "a\udcff\x00b"]}
    body = json_bytes(wrapped)
    assert b'"\\ud800"' in body and b'"a\\udcff\\u0000b"' in body
    # compared as ASCII JSON: NaN is not equal to itself
    assert json.dumps(json.loads(body.decode("utf-8"))) == json.dumps(wrapped)
    assert json_text(wrapped) == body.decode("utf-8")


@given(
    st.integers(min_value=0, max_value=4_102_444_800),
    st.sampled_from([0, 330, 345, -210, -150, 600, -720, 840, 59]),
)
def test_served_times_are_formatted_like_iso_time(ts: int, offset: int) -> None:
    assert TimeFormat(offset)(ts) == iso_time(ts, offset)


FIRST_RECORDS = Path(__file__).parent / "data" / "sandbox_first_records_seed7.json"


def _first_records() -> dict[str, Any]:
    """The first 40 records of each module for seed 7, the deleted entries, and records far
    into a large data set (past the first cycle of unique account names)."""
    gen = Generator(seed=7, accounts=400, contacts=900, deals=300, anchor=ANCHOR)
    out: dict[str, Any] = {}
    for module in gen.sizes:
        records = gen.iter_records(module)
        out[module] = [next(records) for _ in range(40)]
        out[f"{module} deleted"] = [list(d) for d in gen.deleted(module)]
    big = Generator(seed=7, accounts=2_000_000, contacts=2_000_000, deals=10, anchor=ANCHOR)
    far = (552_959, 552_960, 1_105_921, 1_999_999)
    out["far"] = [[big.account(i), big.contact(i), big.deal(i % 10)] for i in far]
    return out


def test_the_first_records_of_seed_7_are_the_pinned_ones() -> None:
    """Recorded before the generator's modules were split: a change shows as a field diff."""
    got = json.loads(json.dumps(_first_records(), ensure_ascii=False))
    if os.environ.get("SANDBOX_RECORD_TRANSCRIPT") == "1":
        text = json.dumps(got, ensure_ascii=False, indent=1)
        FIRST_RECORDS.write_text(text + "\n", encoding="utf-8")
    pinned = json.loads(FIRST_RECORDS.read_text(encoding="utf-8"))
    assert got.keys() == pinned.keys()
    for key, records in pinned.items():
        assert got[key] == records, key
