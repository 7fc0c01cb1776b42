"""Text cleaning of CRM field values: trimmed NFC text, numbers sent unquoted, ids, object arrays."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from functools import partial
from itertools import repeat
from operator import methodcaller
from typing import Any

import numpy as np
import pandas as pd

# Every character str.isspace() accepts, plus invisible characters that arrive from copy-paste.
STRIP_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
    + "\u200b\u2060\ufeff"
)
_strip = methodcaller("strip", STRIP_CHARS)
_nfc = partial(unicodedata.normalize, "NFC")


def clean_text(values: np.ndarray, *, collapse: bool, lower: bool) -> tuple[np.ndarray, np.ndarray]:
    """Trimmed NFC text (None for blank), and a mask of values that are not text at all."""
    clean = _CLEANERS[collapse, lower]
    if not _mostly_repeated(values):
        # One pass: each value is touched once, which is what costs at a million rows.
        odd: list[Any] = []
        out = _cleaned(values.tolist(), collapse, lower, odd)
        if not odd:
            return object_array(out), np.zeros(len(values), dtype=bool)
    # Numbers sent unquoted and values that are not text take the slower path below.
    texts, is_str, bad = as_text(values)
    # Cities, countries and first names repeat a lot: clean each distinct value once.
    codes, distinct = pd.factorize(texts[is_str])
    texts[is_str] = object_array([clean(s) for s in distinct.tolist()])[codes]
    return texts, bad


def _cleaned(items: list[Any], collapse: bool, lower: bool, odd: list[Any]) -> list[str | None]:
    """Each text cleaned as _CLEANERS[collapse, lower] cleans it, None kept, anything else set
    aside in ``odd``: the cleaners written out in loops, without a call per value (a third of
    the CPU); ASCII text is already NFC, so only other text is normalised.

    Trimming first leaves a text that starts and ends with neither white space nor an invisible
    character, so collapsing it afterwards needs no second trim, and neither that nor lowering
    can empty it."""
    ch = STRIP_CHARS
    out = [
        ((v if v.isascii() else _nfc(v)).strip(ch) or None)
        if v.__class__ is str
        else None
        if v is None
        else _set_aside(v, odd)
        for v in items
    ]
    if collapse and lower:
        return [None if v is None else " ".join(v.split()).lower() for v in out]
    if collapse:
        return [None if v is None else " ".join(v.split()) for v in out]
    if lower:
        return [None if v is None else v.lower() for v in out]
    return out


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


# (collapse internal whitespace, lower-case) -> cleaner. NUL is kept, so that the mapping
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


def as_text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _number_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return str(int(value))
    return str(value)


def id_text(value: Any) -> str | None:
    """A CRM id (text or a number) as trimmed text, or None."""
    if isinstance(value, str):
        return value.strip(STRIP_CHARS) or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def object_array(values: list[Any]) -> np.ndarray:
    """A 1-D object array, even when the values are themselves lists."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def nones(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def filled(n: int, value: str) -> np.ndarray:
    return np.full(n, value, dtype=object)


def column(records: pd.DataFrame, field: str) -> np.ndarray:
    """A field as an object array; a field the CRM did not return is all missing."""
    if field in records:
        return records[field].to_numpy(dtype=object)
    return nones(len(records))
