"""Unit tests of the Great Expectations quality gate on small transformed frames."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_books.customers import quality
from crm_books.customers.columns import (
    CONTACT_PERSON_COLUMNS,
    CUSTOMER_COLUMNS,
    RAW_PAYLOAD,
    REJECT_COLUMNS,
)
from crm_books.customers.quality import (
    QualityGateError,
    enforce,
    validate_contact_persons,
    validate_customers,
)

MODIFIED = "2026-11-20T08:30:00Z"


def account(i: int, **overrides: Any) -> dict[str, Any]:
    """A clean business customer row as the transform produces it from an Account."""
    row: dict[str, Any] = dict.fromkeys(CUSTOMER_COLUMNS)
    row.update(
        crm_account_id=f"55500000{i:04d}",
        customer_sub_type="business",
        contact_name=f"Acme {i} GmbH",
        company_name=f"Acme {i} GmbH",
        email=f"office{i}@acme.example.com",
        phone="+49 30 1234567",
        billing_city="Berlin",
        crm_modified_time=MODIFIED,
    )
    row.update(overrides)
    row[RAW_PAYLOAD] = json.dumps({"id": row["crm_account_id"], "n": i})
    return row


def individual(i: int, **overrides: Any) -> dict[str, Any]:
    """A clean individual customer row as the transform produces it from an account-less Contact."""
    fields: dict[str, Any] = {
        "crm_account_id": None,
        "crm_contact_id": f"77700000{i:04d}",
        "customer_sub_type": "individual",
        "contact_name": f"Jane Doe {i}",
        "company_name": None,
    }
    return account(i, **{**fields, **overrides})


def person(i: int, **overrides: Any) -> dict[str, Any]:
    """A clean contact person row (a Contact that belongs to an Account)."""
    row: dict[str, Any] = dict.fromkeys(CONTACT_PERSON_COLUMNS)
    row.update(
        crm_contact_id=f"88800000{i:04d}",
        crm_account_id="555000000001",
        salutation="Ms.",
        first_name="Ada",
        last_name=f"Lovelace {i}",
        email=f"ada{i}@example.org",
        crm_modified_time=MODIFIED,
    )
    row.update(overrides)
    row[RAW_PAYLOAD] = json.dumps({"id": row["crm_contact_id"], "n": i})
    return row


def frame(rows: list[dict[str, Any]], columns: tuple[str, ...] = CUSTOMER_COLUMNS) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=[*columns, RAW_PAYLOAD])
    df["crm_modified_time"] = pd.to_datetime(df["crm_modified_time"], utc=True)
    return df


def accounts(n: int, bad: dict[int, dict[str, Any]] | None = None) -> pd.DataFrame:
    bad = bad or {}
    return frame([account(i, **bad.get(i, {})) for i in range(n)])


def test_clean_frame_is_all_valid_and_unchanged() -> None:
    df = accounts(5)

    result = validate_customers(df, module="Accounts")

    assert result.ok
    assert result.table_errors == []
    pd.testing.assert_frame_equal(result.valid, df)
    assert list(result.rejects.columns) == list(REJECT_COLUMNS)
    assert result.rejects.empty
    assert result.summary == {"checked": 5, "valid": 5, "rejected": 0, "table_errors": 0}
    enforce(result)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"crm_account_id": None}, "crm_account_id is missing"),
        ({"crm_account_id": "   "}, "crm_account_id is missing"),
        ({"contact_name": None}, "contact_name is missing"),
        ({"contact_name": " \t "}, "contact_name is missing"),
        ({"customer_sub_type": "company"}, "customer_sub_type 'company' is not one of business"),
        ({"customer_sub_type": None}, "customer_sub_type is missing"),
        ({"notes": "n" * 2001}, "notes 'nnnnn"),
        ({"notes": "n" * 2001}, "is 2,001 characters long, more than the 2,000 allowed"),
        ({"billing_city": "B" * 101}, "billing_city 'BBB"),
        ({"phone": "1" * 51}, "phone '111"),
        ({"crm_modified_time": None}, "crm_modified_time is missing"),
    ],
)
def test_a_failing_row_is_rejected_with_its_reason_and_payload(
    overrides: dict[str, Any], reason: str
) -> None:
    df = accounts(4, bad={2: overrides})

    result = validate_customers(df, module="Accounts")

    assert result.ok
    assert len(result.rejects) == 1
    reject = result.rejects.iloc[0]
    assert reason in reject["reason"]
    assert reject["module"] == "Accounts"
    expected_id = df.loc[2, "crm_account_id"]
    assert reject["crm_id"] == (None if pd.isna(expected_id) else expected_id)
    assert reject[RAW_PAYLOAD] == df.loc[2, RAW_PAYLOAD]
    assert list(result.valid["contact_name"]) == list(df["contact_name"].drop(index=2))
    assert result.summary == {"checked": 4, "valid": 3, "rejected": 1, "table_errors": 0}


MALFORMED_EMAILS = [
    "bob@",
    "bob",
    "@example.com",
    "bob@example",
    "bob@@example.com",
    "bob@mail@example.com",
    "bob smith@example.com",
    "bob@exam ple.com",
    "bob@.example.com",
    "bob@example.",
    "bob@example..com",
    "bob@example.com\n",
    " bob@example.com",
]
SENSIBLE_EMAILS = [
    "first.last+crm@sub.example.co.uk",
    "o'brien@example.ie",
    "jürgen.müller@example.de",
    "用户@例子.广告",
    "x@example.museum",
]


def test_each_malformed_email_is_rejected_naming_the_value() -> None:
    # One batch for all variants (one GX run), each row with one malformed email.
    emails = [*MALFORMED_EMAILS, *SENSIBLE_EMAILS]
    df = frame([account(i, email=email) for i, email in enumerate(emails)])

    result = validate_customers(df, module="Accounts", max_reject_fraction=1.0)

    assert list(result.rejects["reason"]) == [
        f"email '{email}' is not a valid email address" for email in MALFORMED_EMAILS
    ]
    assert list(result.rejects["crm_id"]) == list(df["crm_account_id"][: len(MALFORMED_EMAILS)])
    assert list(result.valid["email"]) == SENSIBLE_EMAILS


def test_missing_email_is_fine() -> None:
    result = validate_customers(accounts(2, bad={0: {"email": None}}), module="Accounts")

    assert result.rejects.empty


def test_row_with_several_failures_gives_one_reject_with_every_reason() -> None:
    df = accounts(3, bad={0: {"email": "bob@", "contact_name": None}})

    result = validate_customers(df, module="Accounts")

    assert len(result.rejects) == 1
    assert result.rejects.iloc[0]["reason"] == (
        "contact_name is missing; email 'bob@' is not a valid email address"
    )
    assert len(result.valid) == 2


def test_long_value_is_clipped_in_the_reason() -> None:
    result = validate_customers(accounts(2, bad={0: {"notes": "x" * 5000}}), module="Accounts")

    reason = result.rejects.iloc[0]["reason"]
    assert reason.startswith("notes 'xxx")
    assert "5,000 characters long" in reason
    assert len(reason) < 200


def test_unicode_rtl_and_hostile_strings_pass_when_otherwise_fine() -> None:
    names = [
        "שלום עליכם בע״מ",
        "شركة المثال",
        "Robert'); DROP TABLE customers;--",
        'The "Quoted" Company; Ltd.',
        "Zoë & Søn 🚀",
        "\u202eevil\u202c Corp",
    ]
    df = frame([account(i, contact_name=n, company_name=n) for i, n in enumerate(names)])

    result = validate_customers(df, module="Accounts")

    assert result.ok
    assert result.rejects.empty
    assert list(result.valid["contact_name"]) == names


def test_object_dtype_frame_with_none_is_checked_the_same() -> None:
    df = accounts(3, bad={1: {"email": "nope"}}).astype(object)
    df = df.where(df.notna(), None)
    df["crm_modified_time"] = pd.to_datetime(df["crm_modified_time"], utc=True)

    result = validate_customers(df, module="Accounts")

    assert list(result.rejects["reason"]) == ["email 'nope' is not a valid email address"]
    assert len(result.valid) == 2


def test_rows_are_matched_by_position_whatever_the_index() -> None:
    df = accounts(3, bad={1: {"contact_name": None}})
    df.index = pd.Index([30, 10, 20])

    result = validate_customers(df, module="Accounts")

    assert list(result.rejects["crm_id"]) == [df.iloc[1]["crm_account_id"]]
    assert list(result.valid["crm_account_id"]) == list(df["crm_account_id"].iloc[[0, 2]])


def test_contacts_customers_are_keyed_by_crm_contact_id() -> None:
    df = frame([individual(0), individual(1, crm_contact_id=None), individual(2)])

    result = validate_customers(df, module="Contacts")

    assert result.ok
    assert list(result.rejects["reason"]) == ["crm_contact_id is missing"]
    assert list(result.rejects["module"]) == ["Contacts"]
    assert list(result.valid["crm_contact_id"]) == ["777000000000", "777000000002"]


def test_unknown_module_is_refused() -> None:
    with pytest.raises(ValueError, match="Deals"):
        validate_customers(accounts(1), module="Deals")


def test_missing_columns_fail_the_table_and_enforce_says_which() -> None:
    df = accounts(3).drop(columns=["email", RAW_PAYLOAD])

    result = validate_customers(df, module="Accounts")

    assert not result.ok
    assert len(result.table_errors) == 1
    assert "email" in result.table_errors[0]
    assert RAW_PAYLOAD in result.table_errors[0]
    with pytest.raises(QualityGateError, match="missing column") as raised:
        enforce(result)
    assert result.table_errors[0] in str(raised.value)


def test_extra_columns_are_allowed_and_kept() -> None:
    df = accounts(2).assign(source_file="page-1.json")

    result = validate_customers(df, module="Accounts")

    assert result.ok
    assert list(result.valid["source_file"]) == ["page-1.json"] * 2


def test_duplicate_ids_fail_the_table_listing_them() -> None:
    rows = [account(i) for i in range(4)]
    rows[3]["crm_account_id"] = rows[1]["crm_account_id"]

    result = validate_customers(frame(rows), module="Accounts")

    assert not result.ok
    assert "crm_account_id" in result.table_errors[0]
    assert f"'{rows[1]['crm_account_id']}'" in result.table_errors[0]
    with pytest.raises(QualityGateError, match="more than one row"):
        enforce(result)


def test_many_duplicates_are_listed_up_to_ten() -> None:
    rows = [account(i) for i in range(30)]
    for row in rows[15:]:
        row["crm_account_id"] = rows[int(row["crm_account_id"][-2:]) - 15]["crm_account_id"]

    result = validate_customers(frame(rows), module="Accounts")

    [error] = result.table_errors
    assert "15 crm_account_id value(s)" in error
    assert error.endswith("and 5 more.")


def test_too_many_rejects_fail_the_table_with_the_fraction() -> None:
    bad = {i: {"email": "broken@"} for i in range(0, 100, 4)}
    bad[1] = {"contact_name": None}

    result = validate_customers(accounts(100, bad=bad), module="Accounts")

    assert not result.ok
    [error] = result.table_errors
    assert "26 of 100" in error
    assert "26.0%" in error
    assert "20% allowed" in error
    assert "email is not a valid email address (25)" in error
    assert len(result.rejects) == 26


def test_reject_fraction_at_the_threshold_passes_and_is_configurable() -> None:
    df = accounts(100, bad={i: {"email": "broken@"} for i in range(0, 100, 5)})

    assert validate_customers(df, module="Accounts").ok
    stricter = validate_customers(df, module="Accounts", max_reject_fraction=0.1)
    assert not stricter.ok
    assert "10% allowed" in stricter.table_errors[0]


def test_small_batches_are_not_judged_by_their_reject_fraction() -> None:
    df = accounts(19, bad={i: {"email": "broken@"} for i in range(10)})

    result = validate_customers(df, module="Accounts")

    assert result.ok
    assert len(result.rejects) == 10


def test_row_count_over_the_limit_fails_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quality, "MAX_ROWS", 3)

    result = validate_customers(accounts(4), module="Accounts")

    assert not result.ok
    assert "has 4 rows, more than the 3" in result.table_errors[0]


def test_empty_frame_is_valid() -> None:
    df = accounts(0)

    result = validate_customers(df, module="Accounts")

    assert result.ok
    assert result.valid.empty
    assert list(result.valid.columns) == list(df.columns)
    assert result.rejects.empty
    assert result.summary == {"checked": 0, "valid": 0, "rejected": 0, "table_errors": 0}
    enforce(result)


def test_contact_persons_need_an_id_and_some_name() -> None:
    df = frame(
        [
            person(0),
            person(1, first_name=None),
            person(2, last_name=None),
            person(3, first_name=None, last_name=None),
            person(4, crm_contact_id=None),
            person(5, salutation="S" * 26, email="ada@"),
        ],
        CONTACT_PERSON_COLUMNS,
    )

    result = validate_contact_persons(df)

    assert result.ok
    assert list(result.valid.index) == [0, 1, 2]
    assert list(result.valid["crm_contact_id"]) == list(df["crm_contact_id"].iloc[:3])
    assert list(result.rejects["reason"]) == [
        "first_name and last_name are both missing",
        "crm_contact_id is missing",
        f"email 'ada@' is not a valid email address; salutation '{'S' * 26}' is 26 characters "
        "long, more than the 25 allowed",
    ]
    assert list(result.rejects["module"]) == ["Contacts"] * 3
    assert result.rejects.iloc[0][RAW_PAYLOAD] == df.loc[3, RAW_PAYLOAD]


def test_contact_persons_table_checks() -> None:
    rows = [person(i) for i in range(3)]
    rows[2]["crm_contact_id"] = rows[0]["crm_contact_id"]
    df = frame(rows, CONTACT_PERSON_COLUMNS).drop(columns=["last_name"])

    result = validate_contact_persons(df)

    assert len(result.table_errors) == 2
    assert "last_name" in result.table_errors[0]
    assert "crm_contact_id" in result.table_errors[1]


_FAULTS: list[dict[str, Any]] = [
    {},
    {"contact_name": None},
    {"email": "not an email"},
    {"customer_sub_type": "partner"},
    {"website": "w" * 201},
    {"crm_modified_time": None},
]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(range(len(_FAULTS))), min_size=1, max_size=30))
def test_no_row_is_lost_or_duplicated(faults: list[int]) -> None:
    df = accounts(len(faults), bad={i: _FAULTS[f] for i, f in enumerate(faults)})

    result = validate_customers(df, module="Accounts", max_reject_fraction=1.0)

    assert result.ok
    expected_bad = {df.loc[i, "crm_account_id"] for i, f in enumerate(faults) if f}
    assert set(result.rejects["crm_id"]) == expected_bad
    assert set(result.valid["crm_account_id"]).isdisjoint(expected_bad)
    assert len(result.valid) + len(result.rejects) == len(df)
