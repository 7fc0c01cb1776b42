"""Pure pandas transforms: parsed Zoho CRM Accounts and Contacts into Books customer frames."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_books import config
from crm_books.customers.cleaning import (
    as_text,
    clean_text,
    column,
    filled,
    id_text,
    nones,
    object_array,
)
from crm_books.customers.columns import (
    ADDRESS_PARTS,
    CONTACT_PERSON_COLUMNS,
    CUSTOMER_COLUMNS,
    RAW_PAYLOAD,
)
from crm_books.customers.payloads import ID, reject_frame
from crm_books.json_text import escape_surrogates
from crm_books.warehouse.text import MAX_ID_LENGTH, any_problem, id_problem, quoted, text_problem

# The parser is part of this module's interface (the transform step and tests read it here).
__all__ = [
    "AccountsResult",
    "ContactsResult",
    "latest_versions",
    "transform_accounts",
    "transform_contacts",
]

MODIFIED_TIME = "Modified_Time"
ACCOUNT_LOOKUP = "Account_Name"

_HAS_OFFSET = re.compile(r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)\s*$")

_ACCOUNT_TEXT: dict[str, str] = {
    "company_name": "Account_Name",
    "phone": "Phone",
    "fax": "Fax",
    "website": "Website",
    "notes": "Description",
    **{f"billing_{p}": f"Billing_{p.title()}" for p in ADDRESS_PARTS if p != "zip"},
    "billing_zip": "Billing_Code",
    **{f"shipping_{p}": f"Shipping_{p.title()}" for p in ADDRESS_PARTS if p != "zip"},
    "shipping_zip": "Shipping_Code",
}
_PERSON_TEXT: dict[str, str] = {
    "salutation": "Salutation",
    "first_name": "First_Name",
    "last_name": "Last_Name",
    "email": "Email",
    "phone": "Phone",
    "mobile": "Mobile",
}
_INDIVIDUAL_TEXT: dict[str, str] = {
    "first_name": "First_Name",
    "last_name": "Last_Name",
    "email": "Email",
    "phone": "Phone",
    "mobile": "Mobile",
    "fax": "Fax",
    **{f"billing_{p}": f"Mailing_{p.title()}" for p in ADDRESS_PARTS},
    **{f"shipping_{p}": f"Other_{p.title()}" for p in ADDRESS_PARTS},
}
# The CRM fields each module's mapping reads (parse_payloads(fields=...) decodes only these).
MAPPED_FIELDS: dict[str, tuple[str, ...]] = {
    config.ACCOUNTS: (ID, MODIFIED_TIME, *_ACCOUNT_TEXT.values()),
    config.CONTACTS: (
        ID,
        MODIFIED_TIME,
        ACCOUNT_LOOKUP,
        *dict.fromkeys((*_PERSON_TEXT.values(), *_INDIVIDUAL_TEXT.values())),
    ),
}
# Names get internal whitespace runs collapsed; addresses and notes keep their line breaks.
_NAME_COLUMNS = frozenset({"contact_name", "company_name", "salutation", "first_name", "last_name"})


@dataclass(frozen=True)
class AccountsResult:
    """Accounts as Books business customers, and the records that could not be mapped."""

    customers: pd.DataFrame
    rejects: pd.DataFrame


@dataclass(frozen=True)
class ContactsResult:
    """Contacts split into individual customers and contact persons of accounts, plus rejects."""

    customers: pd.DataFrame
    contact_persons: pd.DataFrame
    rejects: pd.DataFrame


# -- exact dedupe -------------------------------------------------------------------------------


def latest_versions(frame: pd.DataFrame, key: str, time_column: str) -> pd.DataFrame:
    """Keep one row per key: the newest ``time_column``; among equal times the last one seen.

    ``time_column`` may hold datetimes or ISO-8601 text such as Zoho's ``Modified_Time``; text is
    compared as UTC instants, since offsets differ (daylight saving) and an unparsable time
    counts as the oldest. Rows whose key is missing are kept as they are (they are not versions
    of anything). Survivors keep their original order; the index is reset.
    """
    if frame.empty:
        return frame.reset_index(drop=True)
    times = frame[time_column]
    if not pd.api.types.is_datetime64_any_dtype(times):
        times = pd.to_datetime(times, utc=True, format="ISO8601", errors="coerce")
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        # The same instants as naive UTC sort identically, without a Timestamp object per row.
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    position = np.arange(len(frame))
    keyed = frame[key].notna().to_numpy()
    order = pd.DataFrame({"key": frame[key].to_numpy(), "time": times.to_numpy(), "pos": position})[
        keyed
    ]
    # A stable sort by time keeps arrival order among ties, so the last one seen sorts last.
    order = order.sort_values("time", kind="stable", na_position="first")
    keep = np.zeros(len(frame), dtype=bool)
    keep[order.drop_duplicates("key", keep="last")["pos"].to_numpy()] = True
    keep |= ~keyed
    return frame[keep].reset_index(drop=True)


# -- mapping ------------------------------------------------------------------------------------


def transform_accounts(records: pd.DataFrame) -> AccountsResult:
    """Map parsed Account records to Books business customers (DESIGN.md B2), newest version each."""
    rows, rejects = account_rows(records)
    customers = latest_versions(rows, "crm_account_id", "crm_modified_time")
    return AccountsResult(customers=customers[[*CUSTOMER_COLUMNS, RAW_PAYLOAD]], rejects=rejects)


def account_rows(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(each Account record that maps, as a customer row in record order, not yet deduplicated;
    those that do not, as rejects). Row by row, so the records may come in pieces."""
    records = records.reset_index(drop=True)
    n = len(records)
    ids, times, reasons = _record_keys(records)
    text: dict[str, np.ndarray] = {}
    for target, field in _ACCOUNT_TEXT.items():
        text[target] = _mapped_text(records, target, field, reasons, lower=False)

    customers = pd.DataFrame(
        {
            "crm_account_id": ids,
            "crm_contact_id": nones(n),
            "customer_sub_type": filled(n, "business"),
            "contact_name": text["company_name"],
            "email": nones(n),
            "mobile": nones(n),
            **text,
            RAW_PAYLOAD: _raw_payloads(records),
        },
        dtype=object,
    )
    customers["crm_modified_time"] = times
    rejects = reasons.frame(config.ACCOUNTS, ids, _raw_payloads(records))
    return customers[~reasons.any()], rejects


def transform_contacts(records: pd.DataFrame) -> ContactsResult:
    """Map parsed Contact records: with an account -> contact persons, without -> individuals (B2)."""
    rows, rejects = contact_rows(records)
    # Dedupe before splitting: a contact may have gained or lost its account between versions.
    latest = latest_versions(rows, "crm_contact_id", "crm_modified_time")
    individuals, persons = split_contacts(latest)
    return ContactsResult(
        customers=individuals[[*CUSTOMER_COLUMNS, RAW_PAYLOAD]],
        contact_persons=persons[[*CONTACT_PERSON_COLUMNS, RAW_PAYLOAD]],
        rejects=rejects,
    )


def contact_rows(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """account_rows of Contacts: split_contacts splits the rows once they are deduplicated."""
    records = records.reset_index(drop=True)
    ids, times, reasons = _record_keys(records)
    account_ids, has_account, lookup_bad = _lookup_ids(column(records, ACCOUNT_LOOKUP))
    reasons.add(lookup_bad, "Account_Name is not a lookup with an account id")
    reasons.add_each(_unstorable(account_ids, f"{ACCOUNT_LOOKUP} id", ids=True))
    text: dict[str, np.ndarray] = {}
    for target, field in {**_PERSON_TEXT, **_INDIVIDUAL_TEXT}.items():
        # A field only matters where it is mapped: Fax and addresses only for individuals.
        mapped = np.ones(len(records), dtype=bool)
        if target not in _PERSON_TEXT:
            mapped = ~has_account
        elif target not in _INDIVIDUAL_TEXT:
            mapped = has_account
        text[target] = _mapped_text(
            records, target, field, reasons, lower=target == "email", where=mapped
        )

    raw = _raw_payloads(records)
    all_columns = pd.DataFrame(
        {"crm_contact_id": ids, "crm_account_id": account_ids, **text, RAW_PAYLOAD: raw},
        dtype=object,
    )
    all_columns["crm_modified_time"] = times
    all_columns["_has_account"] = has_account
    return all_columns[~reasons.any()], reasons.frame(config.CONTACTS, ids, raw)


def split_contacts(latest: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(individual customers, contact persons) of mapped Contact rows, by their account."""
    with_account = latest["_has_account"].to_numpy(dtype=bool)
    persons = latest[with_account].reset_index(drop=True)
    return _as_individuals(latest[~with_account].reset_index(drop=True)), persons


def _record_keys(records: pd.DataFrame) -> tuple[np.ndarray, pd.Series, _Reasons]:
    """Every record's id and Modified_Time, and the reasons collected about them."""
    ids, id_bad = _ids(column(records, ID))
    times, time_reason = _modified_times(column(records, MODIFIED_TIME))
    reasons = _Reasons(len(records))
    reasons.add(id_bad, "record has no id")
    reasons.add_each(_unstorable(ids, ID, ids=True))
    reasons.add_each(time_reason)
    return ids, times, reasons


def _mapped_text(
    records: pd.DataFrame,
    target: str,
    field: str,
    reasons: _Reasons,
    *,
    lower: bool,
    where: np.ndarray | None = None,
) -> np.ndarray:
    """One CRM text field cleaned for ``target``; where mapped, what it cannot be is a reason."""
    values, bad = clean_text(column(records, field), collapse=target in _NAME_COLUMNS, lower=lower)
    reasons.add(bad if where is None else bad & where, f"{field} is not text")
    reasons.add_each(_unstorable(values, field, where=where))
    return values


def _as_individuals(individuals: pd.DataFrame) -> pd.DataFrame:
    """Account-less contacts as individual customers, named after the person."""
    m = len(individuals)
    return individuals.assign(
        **{
            name: pd.Series(values, dtype=object)
            for name, values in {
                "crm_account_id": nones(m),
                "customer_sub_type": filled(m, "individual"),
                "contact_name": _full_names(
                    individuals["first_name"].to_numpy(), individuals["last_name"].to_numpy()
                ),
                "company_name": nones(m),
                "website": nones(m),
                "notes": nones(m),
            }.items()
        }
    )


# -- column helpers -----------------------------------------------------------------------------


def _unstorable(
    values: np.ndarray, label: str, *, ids: bool = False, where: np.ndarray | None = None
) -> np.ndarray:
    """Per row, why the warehouse cannot store a cleaned value ("Phone contains a NUL
    character ..."), None where it can; ``ids`` also bounds the length, ``where`` limits the rows."""
    out = nones(len(values))
    items = values.tolist()
    texts = list(filter(None, items))  # None and "" hold nothing to find
    too_long = ids and max(map(len, texts), default=0) > MAX_ID_LENGTH
    if not too_long and not any_problem(texts):  # the usual case: one scan of the column
        return out
    check = id_problem if ids else text_problem
    for row, value in enumerate(items):
        if value is not None and (where is None or where[row]):
            problem = check(value)
            out[row] = None if problem is None else f"{label} {problem}"
    return out


def _ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CRM ids as trimmed text, and the mask of rows without a usable id."""
    ids, _ = clean_text(values, collapse=False, lower=False)
    return ids, pd.isna(ids)


def _modified_times(values: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """Modified_Time in UTC, and per row the reason it is unusable (None where it is fine)."""
    texts, present, not_text = as_text(values)
    series = pd.Series(texts, dtype=object)
    # Zoho's own format parses in one C pass; %z refuses times without an offset.
    times = pd.to_datetime(series, utc=True, format="%Y-%m-%dT%H:%M:%S%z", errors="coerce")
    retry = np.flatnonzero(present & times.isna().to_numpy())
    if len(retry):
        # Other ISO-8601 spellings (fractions of a second, no colon): only with an offset.
        others = series.iloc[retry]
        parsed = pd.to_datetime(others, utc=True, format="ISO8601", errors="coerce")
        offset = others.map(lambda s: _HAS_OFFSET.search(s) is not None).to_numpy(dtype=bool)
        times.iloc[retry] = parsed.where(offset, pd.NaT)
    reason = nones(len(series))
    reason[~present] = "Modified_Time is missing"
    reason[not_text] = "Modified_Time is not text"
    unparsable = present & times.isna().to_numpy()
    reason[unparsable] = [
        f"Modified_Time '{quoted(s)}' is not an ISO-8601 time with an offset"
        for s in texts[unparsable]
    ]
    return times.astype("datetime64[us, UTC]"), reason


def _lookup_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(account id or None, has-account mask, malformed-lookup mask) of Account_Name lookups."""
    n = len(values)
    missing = pd.isna(values)
    ids = nones(n)
    rows = np.flatnonzero(~missing)
    ids[rows] = [id_text(v.get(ID)) if isinstance(v, dict) else None for v in values[rows].tolist()]
    has_account = ~pd.isna(ids)
    return ids, has_account, ~missing & ~has_account


def _full_names(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """ "First Last", or whichever of the two exists."""
    has_first = ~pd.isna(first)
    has_last = ~pd.isna(last)
    out = np.where(has_first, first, last)
    both = has_first & has_last
    out[both] = first[both] + " " + last[both]
    return out


def _raw_payloads(records: pd.DataFrame) -> np.ndarray:
    """The original JSON of each record; rebuilt from the fields if the caller did not keep it."""
    if RAW_PAYLOAD in records:
        return records[RAW_PAYLOAD].to_numpy(dtype=object)
    rows = records.astype(object).where(records.notna(), None).to_dict("records")
    return object_array(
        [
            escape_surrogates(json.dumps(r, ensure_ascii=False, default=str, sort_keys=True))
            for r in rows
        ]
    )


class _Reasons:
    """Why each row cannot be mapped; a row may collect several reasons."""

    def __init__(self, n: int) -> None:
        self._n = n
        self._checks: list[tuple[np.ndarray, np.ndarray | str]] = []

    def add(self, mask: np.ndarray, reason: str) -> None:
        if mask.any():
            self._checks.append((mask, reason))

    def add_each(self, reasons: np.ndarray) -> None:
        mask = ~pd.isna(reasons)
        if mask.any():
            self._checks.append((mask, reasons))

    def any(self) -> np.ndarray:
        out = np.zeros(self._n, dtype=bool)
        for mask, _ in self._checks:
            out |= mask
        return out

    def frame(self, module: str, ids: np.ndarray, raw: np.ndarray) -> pd.DataFrame:
        rows = np.flatnonzero(self.any())
        texts: list[list[str]] = [[] for _ in rows]
        for mask, reason in self._checks:
            for slot, row in enumerate(rows):
                if mask[row]:
                    texts[slot].append(reason if isinstance(reason, str) else str(reason[row]))
        return reject_frame(
            [
                (module, _reject_id(ids[row]), "; ".join(parts), raw[row])
                for row, parts in zip(rows.tolist(), texts, strict=True)
            ]
        )


def _reject_id(crm_id: str | None) -> str | None:
    """The id a reject is filed under: as it is, or clipped and escaped when it cannot be stored."""
    if crm_id is None or id_problem(crm_id) is None:
        return crm_id
    return quoted(crm_id)
