"""Compact JSON text exactly as ``json.dumps(ensure_ascii=False, separators=(",", ":"))`` writes
it, several times cheaper: the extract writes every CRM record's raw JSON and the sandbox CRM
serves every record, so both use this one encoder. A lone surrogate, which UTF-8 cannot carry, is
written as its ``\\udXXX`` escape, as Zoho serves it."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder()
# msgspec writes these floats exactly like json.dumps; outside them it drops the exponent's
# "+" (1e+16), writes 0.00001 for 1e-05 and null for NaN and Infinity
_PLAIN_FLOATS = (1e-4, 1e16)
_INT64 = (-(1 << 63), 1 << 64)
_SURROGATE = re.compile("[\ud800-\udfff]")
# Values msgspec always writes like json.dumps (bool is not an int here: type() is exact).
_SCALARS = frozenset((str, bool, type(None)))


def json_bytes(value: Any, plain: bool = False) -> bytes:
    """``value`` as json.dumps writes it, in UTF-8.

    msgspec does the work when ``value`` is ``plain`` (the caller knows it holds only values
    msgspec writes the same way) or checks as plain; anything else, or anything msgspec refuses,
    goes through json, which then fails or succeeds exactly as it always did. A lone surrogate
    (UTF-8 cannot carry it) is written as its escape, so the text still decodes to ``value``.
    """
    if plain or is_plain(value):
        try:
            return _ENCODER.encode(value)
        except (TypeError, ValueError, OverflowError):
            pass
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:
        return escape_surrogates(text).encode()


def json_text(value: Any) -> str:
    """``value`` as json_bytes writes it, as text that any UTF-8 store (COPY included) accepts."""
    return json_bytes(value).decode()


def escape_surrogates(text: str) -> str:
    """JSON text with each lone surrogate written as its ``\\udXXX`` escape. Only valid on the
    output of json.dumps, where a surrogate can only sit inside a string literal."""
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def is_plain(value: Any) -> bool:
    """True when msgspec encodes ``value`` byte for byte like json.dumps: str keys, and only
    str, None, bool, 64-bit ints and floats in the range both write the same way."""
    kind = type(value)
    if kind is dict:
        # A loop, not all() over a generator: a CRM record is mostly str and None values, and
        # the extract checks every record, so the per-value cost is the extract's CPU.
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) not in _SCALARS and not is_plain(item):
                return False
        return True
    if kind in _SCALARS:
        return True
    if kind is int:
        return _INT64[0] <= value < _INT64[1]
    if kind is float:
        return value == 0.0 or _PLAIN_FLOATS[0] <= abs(value) < _PLAIN_FLOATS[1]
    if kind is list or kind is tuple:
        return all(type(item) in _SCALARS or is_plain(item) for item in value)
    return False


class XcomRecord:
    """A dataclass a task returns: ``as_dict()`` is its xcom_dict."""

    def as_dict(self) -> dict[str, Any]:
        return xcom_dict(self)


def xcom_dict(record: Any) -> dict[str, Any]:
    """A dataclass as the JSON-ready dict a task returns: Decimals as text (no float rounding),
    dates and datetimes in ISO 8601, tuples as lists; everything else as it is."""
    return {f.name: _xcom_value(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _xcom_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, tuple):
        return [_xcom_value(v) for v in value]
    return value
