"""Detection of CRM text the warehouse cannot store: lone surrogates, NUL, ids too long to index."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crm_books.warehouse.text import (
    MAX_ID_LENGTH,
    MAX_QUOTED_CHARS,
    any_problem,
    id_problem,
    quoted,
    text_problem,
)


def storable(text: str) -> bool:
    """What SQLite and PostgreSQL (COPY in UTF-8, text without NUL) both accept."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


@given(st.text())
def test_a_problem_is_found_exactly_when_the_text_cannot_be_stored(value: str) -> None:
    assert (text_problem(value) is None) == storable(value)
    assert any_problem([value]) == (not storable(value))


@given(st.lists(st.text(max_size=20), max_size=30))
def test_a_column_scan_agrees_with_checking_each_value(values: list[str]) -> None:
    assert any_problem(values) == any(text_problem(v) is not None for v in values)


@given(st.text(max_size=10), st.integers(0xD800, 0xDFFF), st.text(max_size=10))
def test_the_reason_names_the_first_unstorable_code_point(head: str, code: int, tail: str) -> None:
    head = head.replace("\x00", "")
    head = "".join(c for c in head if not 0xD800 <= ord(c) <= 0xDFFF)
    reason = text_problem(head + chr(code) + tail)
    assert reason is not None and reason.startswith(f"contains an unpaired surrogate U+{code:04X}")


def test_reasons_read_as_a_user_needs_them() -> None:
    assert text_problem("Acme \ud800 Ltd") == "contains an unpaired surrogate U+D800"
    assert text_problem("a\x00b") == (
        "contains a NUL character (U+0000), which PostgreSQL text cannot store"
    )
    # what the client makes of the byte 0xFF in a response (surrogateescape)
    invalid = b"Caf\xff".decode("utf-8", "surrogateescape")
    assert text_problem(invalid) == (
        "contains an unpaired surrogate U+DCFF (the invalid UTF-8 byte 0xFF in the CRM "
        "response, or a \\udcff escape)"
    )
    assert text_problem("Zoë 🚀 שלום") is None


@given(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=150))
def test_ids_are_bounded_in_length(value: str) -> None:
    problem = id_problem(value)
    assert (problem is None) == (len(value) <= MAX_ID_LENGTH)
    if problem is not None:
        assert problem == f"is {len(value):,} characters long, more than the 100 allowed"


def test_an_unstorable_id_is_named_before_its_length() -> None:
    assert id_problem("1\x00" * 200) == text_problem("\x00")
    assert id_problem("5843104100000000101") is None


@given(st.text())
def test_quoted_text_is_always_storable_short_and_faithful_when_it_can_be(value: str) -> None:
    shown = quoted(value)
    assert storable(shown)
    assert len(shown) <= MAX_QUOTED_CHARS * 6 + 1
    if storable(value) and len(value) <= MAX_QUOTED_CHARS:
        assert shown == value
