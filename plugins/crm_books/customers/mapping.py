"""Pure pandas transforms: Zoho CRM Accounts and Contacts JSON into Books customer frames."""

from __future__ import annotations

import gc
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from operator import methodcaller
from typing import Any

import numpy as np
import pandas as pd

from crm_books import config
from crm_books.customers.columns import (
    ADDRESS_PARTS,
    CONTACT_PERSON_COLUMNS,
    CUSTOMER_COLUMNS,
    RAW_PAYLOAD,
    REJECT_COLUMNS,
)
from crm_books.json_text import escape_surrogates
from crm_books.warehouse.text import MAX_ID_LENGTH, any_problem, id_problem, quoted, text_problem

try:  # msgspec (an Airflow dependency) decodes about twice as fast as the standard library
    from msgspec.json import Decoder as _MsgspecDecoder

    _json_loads: Callable[[str | bytes | bytearray], Any] = _MsgspecDecoder().decode
except ImportError:  # pragma: no cover
    _json_loads = json.loads

ID = "id"
MODIFIED_TIME = "Modified_Time"
ACCOUNT_LOOKUP = "Account_Name"

# Decoded dicts are the bulkiest form of a record, so payloads are decoded a slice at a time.
_PARSE_CHUNK = 50_000

# Every character str.isspace() accepts, plus invisible characters that arrive from copy-paste.
_STRIP_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
    + "\u200b\u2060\ufeff"
)
_strip = methodcaller("strip", _STRIP_CHARS)
_nfc = partial(unicodedata.normalize, "NFC")
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
# Names get internal whitespace runs collapsed; addresses and notes keep their line breaks.
_NAME_COLUMNS = frozenset({"contact_name", "company_name", "salutation", "first_name", "last_name"})


@dataclass(frozen=True)
class ParsedRecords:
    """Decoded CRM records (one row each, Zoho field names as columns) and undecodable payloads."""

    records: pd.DataFrame
    rejects: pd.DataFrame


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


# -- parsing ------------------------------------------------------------------------------------


def parse_payloads(
    payloads: Sequence[str] | pd.Series, *, module: str | None = None
) -> ParsedRecords:
    """Decode Zoho record JSON texts into a frame; payloads that are not a record become rejects.

    :param payloads: one JSON object text per record, as the CRM API returns them.
    :param module: CRM module name written into the rejects' ``module`` column.
    """
    texts = payloads.tolist() if isinstance(payloads, pd.Series) else list(payloads)
    with _gc_paused():
        return _parse(texts, module)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Millions of fresh dicts set off full garbage collections that find nothing (JSON has no
    cycles) and grow with everything else alive; pause them while decoding."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse(texts: list[Any], module: str | None) -> ParsedRecords:
    chunks: list[pd.DataFrame] = []
    rejects: list[tuple[str | None, str | None, str, str | None]] = []
    seen: set[str] = set()
    gappy: set[str] = set()  # fields absent from some records: pandas fills those with NaN
    for start in range(0, len(texts), _PARSE_CHUNK):
        chunk = texts[start : start + _PARSE_CHUNK]
        decoded = [_decode(text) for text in chunk]
        good = [i for i, rec in enumerate(decoded) if type(rec) is dict]
        if len(good) < len(chunk):
            good_set = set(good)
            rejects.extend(
                (module, None, str(decoded[i]), _raw_text(chunk[i]))
                for i in range(len(chunk))
                if i not in good_set
            )
        records = [decoded[i] for i in good]
        keys: set[str] = set().union(*records)
        if set(map(len, records)) != {len(keys)}:
            gappy |= keys
        if chunks and keys != seen:
            gappy |= keys ^ seen
        seen |= keys
        frame = pd.DataFrame(records, dtype=object)
        frame[RAW_PAYLOAD] = pd.Series([chunk[i] for i in good], dtype=object)
        chunks.append(frame)
        del decoded, records

    combined = pd.concat(chunks, ignore_index=True, sort=False) if chunks else pd.DataFrame()
    del chunks
    fields = sorted(seen - {ID, RAW_PAYLOAD})
    records = pd.DataFrame(
        {
            name: _none_for_missing(values) if name in gappy or name == ID else values
            for name in (ID, *fields, RAW_PAYLOAD)
            for values in (_column(combined, name),)
        },
        dtype=object,
    )
    return ParsedRecords(records=records, rejects=_reject_frame(rejects))


def _decode(text: Any) -> dict[str, Any] | str:
    """The record dict, or the reason it is not one."""
    if not isinstance(text, str | bytes | bytearray):
        return "payload is empty" if _is_missing(text) else "payload is not JSON text"
    try:
        rec = _json_loads(text)
    except (ValueError, RecursionError) as exc:
        try:  # msgspec refuses lone surrogate escapes, which the standard library decodes
            rec = json.loads(text)
        except (ValueError, RecursionError):
            return f"payload is not valid JSON ({exc})"
    if type(rec) is not dict:
        return f"payload is a JSON {type(rec).__name__}, not a record object"
    if _id_text(rec.get(ID)) is None:
        return "record has no id"
    return rec


def _raw_text(payload: Any) -> str | None:
    if isinstance(payload, bytes | bytearray):
        return payload.decode("utf-8", errors="replace")
    return payload if isinstance(payload, str) else None


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
    records = records.reset_index(drop=True)
    n = len(records)
    ids, id_bad = _ids(_column(records, ID))
    times, time_reason = _modified_times(_column(records, MODIFIED_TIME))
    reasons = _Reasons(n)
    reasons.add(id_bad, "record has no id")
    reasons.add_each(_unstorable(ids, ID, ids=True))
    reasons.add_each(time_reason)
    text: dict[str, np.ndarray] = {}
    for target, field in _ACCOUNT_TEXT.items():
        values, bad = _clean_text(
            _column(records, field), collapse=target in _NAME_COLUMNS, lower=False
        )
        reasons.add(bad, f"{field} is not text")
        reasons.add_each(_unstorable(values, field))
        text[target] = values

    ok = ~reasons.any()
    customers = pd.DataFrame(
        {
            "crm_account_id": ids,
            "crm_contact_id": _nones(n),
            "customer_sub_type": _filled(n, "business"),
            "contact_name": text["company_name"],
            "email": _nones(n),
            "mobile": _nones(n),
            **text,
            RAW_PAYLOAD: _raw_payloads(records),
        },
        dtype=object,
    )
    customers["crm_modified_time"] = times
    customers = latest_versions(customers[ok], "crm_account_id", "crm_modified_time")
    return AccountsResult(
        customers=customers[[*CUSTOMER_COLUMNS, RAW_PAYLOAD]],
        rejects=reasons.frame(config.ACCOUNTS, ids, _raw_payloads(records)),
    )


def transform_contacts(records: pd.DataFrame) -> ContactsResult:
    """Map parsed Contact records: with an account -> contact persons, without -> individuals (B2)."""
    records = records.reset_index(drop=True)
    n = len(records)
    ids, id_bad = _ids(_column(records, ID))
    times, time_reason = _modified_times(_column(records, MODIFIED_TIME))
    account_ids, has_account, lookup_bad = _lookup_ids(_column(records, ACCOUNT_LOOKUP))
    reasons = _Reasons(n)
    reasons.add(id_bad, "record has no id")
    reasons.add_each(_unstorable(ids, ID, ids=True))
    reasons.add_each(time_reason)
    reasons.add(lookup_bad, "Account_Name is not a lookup with an account id")
    reasons.add_each(_unstorable(account_ids, f"{ACCOUNT_LOOKUP} id", ids=True))
    text: dict[str, np.ndarray] = {}
    for target, field in {**_PERSON_TEXT, **_INDIVIDUAL_TEXT}.items():
        values, bad = _clean_text(
            _column(records, field), collapse=target in _NAME_COLUMNS, lower=target == "email"
        )
        # A field only matters where it is mapped: Fax and addresses only for individuals.
        mapped = np.ones(n, dtype=bool)
        if target not in _PERSON_TEXT:
            mapped = ~has_account
        elif target not in _INDIVIDUAL_TEXT:
            mapped = has_account
        reasons.add(bad & mapped, f"{field} is not text")
        reasons.add_each(_unstorable(values, field, where=mapped))
        text[target] = values

    raw = _raw_payloads(records)
    all_columns = pd.DataFrame(
        {"crm_contact_id": ids, "crm_account_id": account_ids, **text, RAW_PAYLOAD: raw},
        dtype=object,
    )
    all_columns["crm_modified_time"] = times
    all_columns["_has_account"] = has_account
    # Dedupe before splitting: a contact may have gained or lost its account between versions.
    latest = latest_versions(all_columns[~reasons.any()], "crm_contact_id", "crm_modified_time")
    with_account = latest["_has_account"].to_numpy(dtype=bool)

    persons = latest[with_account].reset_index(drop=True)
    individuals = latest[~with_account].reset_index(drop=True)
    m = len(individuals)
    individuals = individuals.assign(
        **{
            name: pd.Series(values, dtype=object)
            for name, values in {
                "crm_account_id": _nones(m),
                "customer_sub_type": _filled(m, "individual"),
                "contact_name": _full_names(
                    individuals["first_name"].to_numpy(), individuals["last_name"].to_numpy()
                ),
                "company_name": _nones(m),
                "website": _nones(m),
                "notes": _nones(m),
            }.items()
        }
    )
    return ContactsResult(
        customers=individuals[[*CUSTOMER_COLUMNS, RAW_PAYLOAD]],
        contact_persons=persons[[*CONTACT_PERSON_COLUMNS, RAW_PAYLOAD]],
        rejects=reasons.frame(config.CONTACTS, ids, raw),
    )


# -- column helpers -----------------------------------------------------------------------------


def _column(records: pd.DataFrame, field: str) -> np.ndarray:
    """A field as an object array; a field the CRM did not return is all missing."""
    if field in records:
        return records[field].to_numpy(dtype=object)
    return _nones(len(records))


def _clean_text(
    values: np.ndarray, *, collapse: bool, lower: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Trimmed NFC text (None for blank), and a mask of values that are not text at all."""
    clean = _CLEANERS[collapse, lower]
    if not _mostly_repeated(values):
        # One pass: each value is touched once, which is what costs at a million rows.
        odd: list[Any] = []
        out = [
            clean(v) if v.__class__ is str else None if v is None else _set_aside(v, odd)
            for v in values.tolist()
        ]
        if not odd:
            return _object_array(out), np.zeros(len(values), dtype=bool)
    # Numbers sent unquoted and values that are not text take the slower path below.
    texts, is_str, bad = _as_text(values)
    # Cities, countries and first names repeat a lot: clean each distinct value once.
    codes, distinct = pd.factorize(texts[is_str])
    texts[is_str] = _object_array([clean(s) for s in distinct.tolist()])[codes]
    return texts, bad


def _set_aside(value: Any, odd: list[Any]) -> str | None:
    """Note a value that is neither text nor missing (a comprehension cannot append)."""
    odd.append(value)
    return None


def _trimmed(text: str) -> str | None:
    return _strip(_nfc(text)) or None


def _collapsed(text: str) -> str | None:
    return _strip(" ".join(_nfc(text).split())) or None


def _trimmed_lower(text: str) -> str | None:
    return _strip(_nfc(text)).lower() or None


def _collapsed_lower(text: str) -> str | None:
    return _strip(" ".join(_nfc(text).split())).lower() or None


# (collapse internal whitespace, lower-case) -> cleaner. NUL is kept, so that _unstorable
# quarantines the record rather than loading a value the CRM does not hold.
_CLEANERS: dict[tuple[bool, bool], Callable[[str], str | None]] = {
    (False, False): _trimmed,
    (True, False): _collapsed,
    (False, True): _trimmed_lower,
    (True, True): _collapsed_lower,
}


def _mostly_repeated(values: np.ndarray, sample: int = 2_000) -> bool:
    """Whether deduplicating first pays: a sample holds under half as many distinct texts."""
    head = [v for v in values[:sample].tolist() if v.__class__ is str]
    return len(head) >= 100 and len(set(head)) * 2 < len(head)


def _as_text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values with numbers as text and missing as None, mask of strings, mask of non-text)."""
    out = values.copy()
    is_str = np.fromiter(map(isinstance, out, repeat(str)), dtype=bool, count=len(out))
    bad = np.zeros(len(out), dtype=bool)
    others = np.flatnonzero(~is_str)
    missing = pd.isna(out[others])
    out[others[missing]] = None
    for i in others[~missing]:  # rare: numbers sent unquoted, or values that are not text at all
        text = _number_text(out[i])
        if text is None:
            bad[i] = True
            out[i] = None
        else:
            out[i] = text
            is_str[i] = True
    return out, is_str, bad


def _unstorable(
    values: np.ndarray, label: str, *, ids: bool = False, where: np.ndarray | None = None
) -> np.ndarray:
    """Per row, why the warehouse cannot store a cleaned value ("Phone contains a NUL
    character ..."), None where it can; ``ids`` also bounds the length, ``where`` limits the rows."""
    out = _nones(len(values))
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


def _number_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return str(int(value))
    return str(value)


def _ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CRM ids as trimmed text, and the mask of rows without a usable id."""
    ids, _ = _clean_text(values, collapse=False, lower=False)
    return ids, pd.isna(ids)


def _id_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip(_STRIP_CHARS) or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _modified_times(values: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """Modified_Time in UTC, and per row the reason it is unusable (None where it is fine)."""
    texts, is_str, not_text = _as_text(values)
    series = pd.Series(texts, dtype=object)
    # Zoho's own format parses in one C pass; %z refuses times without an offset.
    times = pd.to_datetime(series, utc=True, format="%Y-%m-%dT%H:%M:%S%z", errors="coerce")
    present = is_str
    retry = np.flatnonzero(present & times.isna().to_numpy())
    if len(retry):
        # Other ISO-8601 spellings (fractions of a second, no colon): only with an offset.
        others = series.iloc[retry]
        parsed = pd.to_datetime(others, utc=True, format="ISO8601", errors="coerce")
        offset = others.map(lambda s: _HAS_OFFSET.search(s) is not None).to_numpy(dtype=bool)
        times.iloc[retry] = parsed.where(offset, pd.NaT)
    reason = _nones(len(series))
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
    ids = _nones(n)
    rows = np.flatnonzero(~missing)
    ids[rows] = [
        _id_text(v.get(ID)) if isinstance(v, dict) else None for v in values[rows].tolist()
    ]
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
    return _object_array(
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
        return _reject_frame(
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


def _reject_frame(rows: list[tuple[str | None, str | None, str, str | None]]) -> pd.DataFrame:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(REJECT_COLUMNS)
    return pd.DataFrame(
        {
            name: _object_array(list(values))
            for name, values in zip(REJECT_COLUMNS, columns, strict=True)
        },
        dtype=object,
    )


def _object_array(values: list[Any]) -> np.ndarray:
    """A 1-D object array, even when the values are themselves lists."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _none_for_missing(values: np.ndarray) -> np.ndarray:
    """Missing values (NaN from fields absent in some records) as None."""
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = None
    return values


def _nones(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def _filled(n: int, value: str) -> np.ndarray:
    return np.full(n, value, dtype=object)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
