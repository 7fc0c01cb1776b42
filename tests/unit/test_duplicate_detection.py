"""Likely-duplicate customers (DESIGN.md B6): match keys and the groups the sync flags."""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_books.customers.duplicates import (
    _DIACRITICS,
    _PHONE_EXTENSION,
    _PUNCTUATION,
    GENERIC_DOMAINS,
    GROUP_COLUMNS,
    LEGAL_SUFFIXES,
    customers_frame,
    find_duplicate_groups,
    normalize_company_name,
    normalize_phone,
    unflagged,
    website_domain,
)
from crm_books.customers.mapping import transform_accounts
from crm_books.customers.payloads import parse_payloads


def name_key(name: Any) -> Any:
    return normalize_company_name(pd.Series([name], dtype=object)).iloc[0]


def customers(*rows: dict[str, Any]) -> pd.DataFrame:
    columns = ["customer_id", "contact_name", "company_name", "email", "phone", "website"]
    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], dtype=object)
    return frame.astype({"customer_id": "int64"})


def groups(frame: pd.DataFrame) -> dict[str, list[int]]:
    found = find_duplicate_groups(frame)
    return {key: sorted(g["customer_id"]) for key, g in found.groupby("group_key")}


# -- company names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    ["Acme Corp", "ACME Corporation", "Acme, Inc.", "  acme  co. ", "Acme L.L.C.", "Acme GmbH",
     "Acme S.A.", "Acme Pty. Ltd.", "Acme Pvt Ltd", "acme & co", "Acme Co., Ltd.", "Ácmé Limited",
     "Acme\u00a0Incorporated", "\uff21\uff23\uff2d\uff25 Corp"],
)  # fmt: skip
def test_spellings_of_one_company_share_a_name_key(variant: str) -> None:
    assert name_key(variant) == "acme"


@pytest.mark.parametrize("other", ["Acme Labs", "Acme Europe Ltd", "Acmes Inc", "Apex Corp"])
def test_different_companies_keep_different_name_keys(other: str) -> None:
    assert name_key(other) != name_key("Acme Corp")


@pytest.mark.parametrize(
    ("name", "key"),
    [("Zürich Müller", "zurich muller"), ("Société Générale S.A.", "societe generale"),
     ("株式会社 北京华星", "株式会社 北京华星"), ("شركة النور", "شركة النور"), ("Rocket 🚀 LLC", "rocket"),
     ("O'Brien & Sons", "obrien sons"), ("Company", "company"), ("Co Ltd", "co ltd")],
)  # fmt: skip
def test_name_keys_fold_accents_and_symbols_but_keep_other_scripts(name: str, key: str) -> None:
    assert name_key(name) == key


@pytest.mark.parametrize("blank", [None, "", "   ", "...", float("nan")])
def test_blank_names_have_no_key(blank: Any) -> None:
    assert name_key(blank) is None


ascii_names = st.text(string.ascii_letters + string.digits + " .,&'-", max_size=30)


@settings(max_examples=200, deadline=None)
@given(name=ascii_names, pad=st.sampled_from(["", " ", "  ", "\t", "."]))
def test_name_key_ignores_case_padding_and_is_stable(name: str, pad: str) -> None:
    key = name_key(name)
    assert name_key(pad + name.upper() + pad) == key
    assert key is None or name_key(key) == key


# -- phones and websites -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "key"),
    [("+1 (555) 123-4567", "5551234567"), ("555.123.4567", "5551234567"),
     ("(555) 123-4567 ext. 89", "5551234567"), ("+91 98765 43210", "9876543210"),
     ("1234567", "1234567"), ("123456", None), ("n/a", None), ("", None), (None, None)],
)  # fmt: skip
def test_phone_key_is_the_last_ten_digits(phone: str | None, key: str | None) -> None:
    assert normalize_phone(pd.Series([phone], dtype=object)).iloc[0] == key


@pytest.mark.parametrize(
    ("url", "domain"),
    [("https://WWW.Acme.com:8443/about?x=1#top", "acme.com"), ("acme.com", "acme.com"),
     ("www.acme.co.uk/", "acme.co.uk"), ("http://shop.acme.io", "shop.acme.io"),
     ("//cdn.acme.io/x", "cdn.acme.io"), ("bücher.de", "bücher.de"), ("http://", None),
     ("https://user@www.acme.com/x@y", "acme.com"), ("acme.com.", "acme.com"),
     ("n/a", None), ("localhost:8080", None), ("192.168.0.1", None), ("-", None), ("", None),
     (None, None)],
)  # fmt: skip
def test_website_domain_is_the_bare_host(url: str | None, domain: str | None) -> None:
    assert website_domain(pd.Series([url], dtype=object)).iloc[0] == domain


# -- groups -------------------------------------------------------------------------------------


def test_customers_with_the_same_normalised_name_are_grouped() -> None:
    frame = customers(
        {"customer_id": 1, "contact_name": "Acme Corp", "company_name": "Acme Corp"},
        {"customer_id": 2, "contact_name": "ACME, Inc.", "company_name": "ACME, Inc."},
        {"customer_id": 3, "contact_name": "Acme Labs", "company_name": "Acme Labs"},
        {"customer_id": 4, "contact_name": "acme"},  # an individual named like the company
    )
    found = find_duplicate_groups(frame)
    assert list(found.columns) == list(GROUP_COLUMNS)
    assert found.values.tolist() == [
        ["name:acme", 1, "same normalised name 'acme'"],
        ["name:acme", 2, "same normalised name 'acme'"],
        ["name:acme", 4, "same normalised name 'acme'"],
    ]


@pytest.mark.parametrize(
    ("column", "first", "second", "key"),
    [("email", "Bob@Example.org", " bob@example.org", "email:bob@example.org"),
     ("phone", "+1 (555) 123-4567", "555 123 4567", "phone:5551234567"),
     ("website", "https://www.acme.com/about", "acme.com", "website:acme.com")],
)  # fmt: skip
def test_customers_sharing_an_email_phone_or_website_are_grouped(
    column: str, first: str, second: str, key: str
) -> None:
    frame = customers(
        {"customer_id": 10, "contact_name": "Bob Jones", column: first},
        {"customer_id": 20, "contact_name": "Robert Jones", column: second},
        {"customer_id": 30, "contact_name": "Someone Else", column: None},
    )
    assert groups(frame) == {key: [10, 20]}


def test_missing_keys_and_mail_provider_websites_never_group() -> None:
    frame = customers(
        {"customer_id": 1, "contact_name": "A", "website": "https://gmail.com"},
        {"customer_id": 2, "contact_name": "B", "website": "www.gmail.com"},
        {"customer_id": 3, "contact_name": "C", "website": "facebook.com/c-shop"},
        {"customer_id": 4, "contact_name": "D", "website": "https://facebook.com/d-shop"},
        {"customer_id": 5, "contact_name": None, "email": None, "phone": "12"},
        {"customer_id": 6, "contact_name": "", "email": "", "phone": "34"},
    )
    assert find_duplicate_groups(frame).empty


def test_one_customer_listed_twice_is_not_a_duplicate_of_itself() -> None:
    frame = customers(
        {"customer_id": 1, "contact_name": "Acme", "email": "a@acme.com"},
        {"customer_id": 1, "contact_name": "Acme Inc", "email": "a@acme.com"},
    )
    assert find_duplicate_groups(frame).empty


def test_a_customer_can_be_in_several_groups_with_one_row_each() -> None:
    frame = customers(
        {"customer_id": 1, "company_name": "Acme", "email": "x@acme.com", "phone": "555 0100 200"},
        {"customer_id": 2, "company_name": "Acme Ltd", "email": "X@acme.com"},
        {"customer_id": 3, "company_name": "Beta", "phone": "5550100200"},
    )
    assert groups(frame) == {
        "email:x@acme.com": [1, 2],
        "name:acme": [1, 2],
        "phone:5550100200": [1, 3],
    }


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_groups_do_not_depend_on_row_order(seed: int) -> None:
    frame = customers(
        *(
            {"customer_id": i, "company_name": f"Firm {i % 4} Ltd", "phone": f"555 010 {i % 3:04d}",
             "email": f"x{i % 5}@firm.com", "website": f"firm{i % 6}.com"}
            for i in range(30)
        )
    )  # fmt: skip
    expected = find_duplicate_groups(frame)
    shuffled = frame.sample(frac=1, random_state=seed)
    pd.testing.assert_frame_equal(find_duplicate_groups(shuffled), expected)
    # 4 names, 3 phones, 5 emails, 6 websites; every customer is in one group of each kind
    assert expected["group_key"].nunique() == 4 + 3 + 5 + 6
    assert len(expected) == 30 * 4


def test_transformed_accounts_flow_into_duplicate_detection() -> None:
    parsed = parse_payloads(
        [
            '{"id": "1", "Account_Name": " Globex  Corporation ", "Modified_Time": "2026-03-01T10:00:00Z"}',
            '{"id": "2", "Account_Name": "GLOBEX, Inc.", "Modified_Time": "2026-03-01T10:00:00Z"}',
        ]
    )
    frame = transform_accounts(parsed.records).customers.assign(customer_id=[101, 102])
    assert groups(frame) == {"name:globex": [101, 102]}


# -- the fast paths agree with the plain definitions ---------------------------------------------
# The keys and groups are computed with bytes tricks and numpy; these are the definitions written
# plainly (as the first implementation had them), checked against the fast code on messy input.


def plain_company_key(name: str) -> str | None:
    key = name.casefold()
    if not key.isascii():
        key = unicodedata.normalize("NFC", _DIACRITICS.sub("", unicodedata.normalize("NFKD", key)))
    words = key.translate(_PUNCTUATION).split()
    kept = len(words)
    while kept and words[kept - 1] in LEGAL_SUFFIXES:
        kept -= 1
    return " ".join(words[:kept] if kept else words) or None


def plain_phone_key(phone: str) -> str | None:
    digits = re.sub(r"[^0-9]", "", _PHONE_EXTENSION.sub("", phone))
    return digits[-10:] if len(digits) >= 7 else None


def plain_groups(frame: pd.DataFrame) -> list[list[Any]]:
    """Every (group_key, customer_id, match_reason), by a dict of key -> customers."""
    members: dict[tuple[str, str, str], set[int]] = {}
    for row in frame.to_dict("records"):
        if pd.isna(row["customer_id"]):
            continue
        name = row["contact_name"] if pd.isna(row["company_name"]) else row["company_name"]
        email, phone, website = row["email"], row["phone"], row["website"]
        domain = website_domain(pd.Series([website], dtype=object)).iloc[0]
        keys = [
            ("name", "same normalised name", plain_company_key(name) if isinstance(name, str) else None),
            ("email", "same email", email.strip().lower() or None if isinstance(email, str) else None),
            ("phone", "same phone number", plain_phone_key(phone) if isinstance(phone, str) else None),
            ("website", "same website domain", None if domain in GENERIC_DOMAINS else domain),
        ]  # fmt: skip
        for kind, what, key in keys:
            if key is not None:
                members.setdefault((kind, what, key), set()).add(int(row["customer_id"]))
    return sorted(
        [f"{kind}:{key}", cid, f"{what} '{key}'"]
        for (kind, what, key), ids in members.items()
        if len(ids) >= 2
        for cid in ids
    )


# Values that collide after folding, in several scripts, with extensions, generic hosts and junk.
MESSY_VALUES = [
    "", "  ", "Acme Corp", "ACME, Inc.", "acme", "Ácmé Ltd", "Co Ltd", "co", "Zürich Müller",
    "株式会社 北京", "O'Brien & Sons", "Rocket 🚀 LLC", "\uff21\uff23\uff2d\uff25 Corp", "ǅemal Inc",
    "Straße GmbH", "STRASSE", "Bob@Example.org", " bob@example.org", "+1 (555) 123-4567",
    "555.123.4567 x 12", "(555) 123-4567 ext. 89", "\uff15\uff15\uff15 \uff11\uff12\uff13 4567",
    "555 123 4567 #3", "https://WWW.Acme.com:8443/about", "acme.com", "gmail.com", "www.gmail.com",
    "n/a", "-", "bücher.de", "192.168.0.1", "x", "ext. 5", "Extension 12",
]  # fmt: skip
messy_text = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.sampled_from(MESSY_VALUES),
    st.text(max_size=12),
    st.text(alphabet=string.printable, max_size=20),
)


any_text = st.one_of(st.text(), st.text(alphabet=string.printable), st.sampled_from(MESSY_VALUES))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(any_text, max_size=8))
def test_fast_name_and_phone_keys_match_their_plain_definitions(values: list[str]) -> None:
    series = pd.Series(values, dtype=object)
    assert normalize_company_name(series).tolist() == [plain_company_key(v) for v in values]
    assert normalize_phone(series).tolist() == [plain_phone_key(v) for v in values]


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "customer_id": st.one_of(st.integers(1, 12), st.none()),
                "contact_name": messy_text,
                "company_name": messy_text,
                "email": messy_text,
                "phone": messy_text,
                "website": messy_text,
            }
        ),
        max_size=25,
    )
)
def test_groups_match_the_plain_definition(rows: list[dict[str, Any]]) -> None:
    columns = ["customer_id", "contact_name", "company_name", "email", "phone", "website"]
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    found = find_duplicate_groups(frame)
    assert list(found.columns) == list(GROUP_COLUMNS)
    assert found.values.tolist() == plain_groups(frame)


def test_customers_frame_keeps_values_and_missing_as_they_were_read() -> None:
    columns = ["customer_id", "contact_name", "company_name", "email", "phone", "website"]
    rows = [
        (7, "Acme", None, "", "555 123 4567", None),
        (8, "Acme Inc", "Acme Inc", None, None, ""),
    ]
    frame = customers_frame(columns, rows)
    assert list(frame.columns) == columns
    assert frame.values.tolist() == [list(r) for r in rows]
    assert groups(frame) == {"name:acme": [7, 8]}
    empty = customers_frame(columns, [])
    assert list(empty.columns) == columns
    assert find_duplicate_groups(empty).empty


def test_unflagged_leaves_out_exactly_the_pairs_flagged_before() -> None:
    frame = customers(
        {"customer_id": 1, "company_name": "Acme", "phone": "555 0100 200"},
        {"customer_id": 2, "company_name": "Acme Ltd", "phone": "555 0100 200"},
        {"customer_id": 3, "company_name": "Acme Inc"},
    )
    found = find_duplicate_groups(frame)
    flagged = [("name:acme", 1), ("name:acme", 3), ("phone:5550100200", 9), ("name:gone", 2)]
    new = unflagged(found, flagged)
    assert list(new.columns) == list(GROUP_COLUMNS)
    assert new.values.tolist() == [
        ["name:acme", 2, "same normalised name 'acme'"],
        ["phone:5550100200", 1, "same phone number '5550100200'"],
        ["phone:5550100200", 2, "same phone number '5550100200'"],
    ]
    assert unflagged(found, []).equals(found)
    everything = list(zip(found["group_key"], found["customer_id"], strict=True))
    assert unflagged(found, everything).empty


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_unflagged_is_a_set_difference(data: st.DataObject) -> None:
    rows = data.draw(
        st.lists(
            st.fixed_dictionaries(
                {"customer_id": st.integers(1, 9), "company_name": st.sampled_from(["A", "A Ltd", "B"]),
                 "phone": st.sampled_from([None, "555 123 4567", "555 765 4321"])}
            ),
            min_size=1,
            max_size=12,
        )
    )  # fmt: skip
    found = find_duplicate_groups(customers(*rows))
    pairs = list(zip(found["group_key"], found["customer_id"], strict=True))
    extra = [("name:a", 99), ("phone:0000000", 1)]
    flagged = data.draw(st.lists(st.sampled_from(pairs + extra), max_size=20))
    new = unflagged(found, flagged)
    kept = [p for p in pairs if p not in set(flagged)]
    assert list(zip(new["group_key"], new["customer_id"], strict=True)) == kept
