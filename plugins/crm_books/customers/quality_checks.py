"""The quality gate's row-level expectations, and how each failing row's reason reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crm_books.customers.columns import MAX_LENGTHS
from crm_books.customers.gx_suite import gx

SUB_TYPES = ("business", "individual")
MAX_SHOWN_CHARS = 60

# One @, no whitespace, and a domain of at least two non-empty dot-separated labels. Any other
# character (unicode included) is allowed, as Zoho accepts internationalised addresses. \Z, not $:
# Python's "$" also matches before a final newline.
EMAIL_REGEX = r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+\Z"
_NOT_BLANK_REGEX = r"\S"
# What Python's \s matches in a str pattern: every character str.isspace() calls whitespace (a
# unit test checks the list against the running Python). PostgreSQL's \s is narrower.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


@dataclass(frozen=True)
class RowCheck:
    """One row-level expectation and how a failing row's reason reads."""

    expectation: Any
    column: str
    reason: Callable[[Any], str]
    # Counted under this label in the "top reasons" of a too-many-rejects error.
    label: str


def shown(value: Any) -> str:
    """A value as it appears in a reason: quoted, and clipped so a 2,000-character note stays readable."""
    text = str(value)
    if len(text) > MAX_SHOWN_CHARS:
        text = text[:MAX_SHOWN_CHARS] + "…"
    return f"'{text}'"


def _fixed(reason: str) -> Callable[[Any], str]:
    return lambda _value: reason


def _too_long(column: str, limit: int) -> Callable[[Any], str]:
    return lambda value: (
        f"{column} {shown(value)} is {len(str(value)):,} characters long, "
        f"more than the {limit:,} allowed"
    )


def _bad_email(value: Any) -> str:
    return f"email {shown(value)} is not a valid email address"


def _bad_sub_type(value: Any) -> str:
    return f"customer_sub_type {shown(value)} is not one of {', '.join(SUB_TYPES)}"


def _not_null(column: str) -> RowCheck:
    label = f"{column} is missing"
    return RowCheck(
        gx().expectations.ExpectColumnValuesToNotBeNull(column=column), column, _fixed(label), label
    )


def _presence_checks(column: str) -> list[RowCheck]:
    label = f"{column} is missing"
    # Upstream turns blank strings into NULL; a blank that slips through is still missing.
    not_blank = gx().expectations.ExpectColumnValuesToMatchRegex(
        column=column, regex=_NOT_BLANK_REGEX
    )
    return [_not_null(column), RowCheck(not_blank, column, _fixed(label), label)]


def _common_checks(present: Sequence[str]) -> list[RowCheck]:
    """Email format, field lengths and modified time, for the columns the frame has."""
    gxe = gx().expectations
    checks: list[RowCheck] = []
    if "email" in present:
        email = gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL_REGEX)
        checks.append(RowCheck(email, "email", _bad_email, "email is not a valid email address"))
    for column in present:
        limit = MAX_LENGTHS.get(column)
        if limit is not None:
            length = gxe.ExpectColumnValueLengthsToBeBetween(column=column, max_value=limit)
            checks.append(
                RowCheck(length, column, _too_long(column, limit), f"{column} is too long")
            )
    if "crm_modified_time" in present:
        checks.append(_not_null("crm_modified_time"))
    return checks


def customer_checks(id_column: str, present: Sequence[str]) -> list[RowCheck]:
    """Checks of a customers frame: id and name present, a known sub type, the common checks."""
    checks: list[RowCheck] = []
    for column in (id_column, "contact_name"):
        if column in present:
            checks += _presence_checks(column)
    if "customer_sub_type" in present:
        in_set = gx().expectations.ExpectColumnValuesToBeInSet(
            column="customer_sub_type", value_set=SUB_TYPES
        )
        checks += [
            _not_null("customer_sub_type"),
            RowCheck(
                in_set,
                "customer_sub_type",
                _bad_sub_type,
                "customer_sub_type is not business or individual",
            ),
        ]
    return checks + _common_checks(present)


def spelt_out(pattern: str) -> str:
    """A check's pattern for PostgreSQL's regular expressions, matching what Python's does:
    ``\\S`` as the class of every character but WHITESPACE, and ``\\s`` (only ever used inside
    brackets here) as WHITESPACE's characters."""
    return pattern.replace(r"\S", f"[^{WHITESPACE}]").replace(r"\s", WHITESPACE)


def screen_params(dialect_name: str) -> dict[str, Any]:
    """The bind parameters of the gate's SQL screens (include/sql/quality/screen_*.sql): the
    checks' patterns (spelt out for PostgreSQL; on SQLite regexp_like is Python's own ``re``)
    and every field's length limit as ``max_<column>``."""
    spell = spelt_out if dialect_name == "postgresql" else str
    return {
        "email_regex": spell(EMAIL_REGEX),
        "not_blank_regex": spell(_NOT_BLANK_REGEX),
        **{f"max_{column}": limit for column, limit in MAX_LENGTHS.items()},
    }


def contact_person_checks(present: Sequence[str]) -> list[RowCheck]:
    """Checks of a contact-persons frame: id present, some name, the common checks."""
    gxe = gx().expectations
    checks: list[RowCheck] = []
    if "crm_contact_id" in present:
        checks += _presence_checks("crm_contact_id")
    if "first_name" in present and "last_name" in present:
        # A person needs some name: first_name is required exactly where last_name is absent.
        label = "first_name and last_name are both missing"
        named = gxe.ExpectColumnValuesToNotBeNull(
            column="first_name", row_condition=gxe.row_conditions.Column("last_name").is_null()
        )
        checks.append(RowCheck(named, "first_name", _fixed(label), label))
    return checks + _common_checks(present)
