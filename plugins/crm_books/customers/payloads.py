"""Decoding Zoho record JSON texts into a frame of records; payloads that are not a record are rejects."""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from crm_books.customers.cleaning import column, id_text, object_array
from crm_books.customers.columns import RAW_PAYLOAD, REJECT_COLUMNS

# msgspec (an Airflow dependency) decodes about twice as fast as the standard library.
_json_loads: Callable[[str | bytes | bytearray], Any] = msgspec.json.Decoder().decode

ID = "id"
_NO_ID = "record has no id"

# Decoded dicts are the bulkiest form of a record, so payloads are decoded a slice at a time.
_PARSE_CHUNK = 50_000

# (module, crm id, reason, raw payload): one rejected record.
RejectRow = tuple[str | None, str | None, str, str | None]


@dataclass(frozen=True)
class ParsedRecords:
    """Decoded CRM records (one row each, Zoho field names as columns) and undecodable payloads."""

    records: pd.DataFrame
    rejects: pd.DataFrame


def parse_payloads(
    payloads: Sequence[str] | pd.Series,
    *,
    module: str | None = None,
    fields: Sequence[str] | None = None,
) -> ParsedRecords:
    """Decode Zoho record JSON texts into a frame; payloads that are not a record become rejects.

    :param payloads: one JSON object text per record, as the CRM API returns them.
    :param module: CRM module name written into the rejects' ``module`` column.
    :param fields: decode only these fields (the ones a mapping reads): the frame then has the
        columns id, ``fields`` and the raw payload, a field a record lacks is None, and the other
        fields are never built (a third of the CPU and half the memory of whole records). The
        same payloads are rejected with the same reasons either way.
    """
    texts = payloads.tolist() if isinstance(payloads, pd.Series) else list(payloads)
    with _gc_paused():
        if fields is not None:
            return _parse_fields(texts, module, tuple(dict.fromkeys((ID, *fields))))
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


@dataclass
class _Fields:
    """The field names seen so far, and those absent from some records (pandas fills them NaN)."""

    seen: set[str]
    gappy: set[str]

    def note(self, records: list[Any], first: bool) -> None:
        keys: set[str] = set().union(*records)
        if set(map(len, records)) != {len(keys)}:
            self.gappy |= keys
        if not first and keys != self.seen:
            self.gappy |= keys ^ self.seen
        self.seen |= keys


def _parse(texts: list[Any], module: str | None) -> ParsedRecords:
    chunks: list[pd.DataFrame] = []
    rejects: list[RejectRow] = []
    fields = _Fields(set(), set())
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
        fields.note(records, first=not chunks)
        frame = pd.DataFrame(records, dtype=object)
        frame[RAW_PAYLOAD] = pd.Series([chunk[i] for i in good], dtype=object)
        chunks.append(frame)
        del decoded, records
    combined = pd.concat(chunks, ignore_index=True, sort=False) if chunks else pd.DataFrame()
    del chunks
    return ParsedRecords(records=_columns(combined, fields), rejects=reject_frame(rejects))


def _columns(combined: pd.DataFrame, fields: _Fields) -> pd.DataFrame:
    """id first, the fields in name order, the raw payload last; NaN fill-ins as None."""
    names = sorted(fields.seen - {ID, RAW_PAYLOAD})
    return pd.DataFrame(
        {
            name: _none_for_missing(values) if name in fields.gappy or name == ID else values
            for name in (ID, *names, RAW_PAYLOAD)
            for values in (column(combined, name),)
        },
        dtype=object,
    )


def _parse_fields(texts: list[Any], module: str | None, fields: tuple[str, ...]) -> ParsedRecords:
    """parse_payloads with ``fields`` (id first): each text decoded straight into those fields."""
    decode = _fields_decoder(fields)
    decoded = _decoded_all(texts, decode)
    if decoded is None:  # some text is not a str, or the fields decoder refused it
        decoded = [_fields_of(text, decode, fields) for text in texts]
    good = [i for i, row in enumerate(decoded) if type(row) is tuple]
    rows, kept = decoded, texts
    rejects: list[RejectRow] = []
    if len(good) < len(decoded):
        good_set = set(good)
        rows, kept = [decoded[i] for i in good], [texts[i] for i in good]
        rejects = [
            (module, None, str(row), _raw_text(text))
            for i, (row, text) in enumerate(zip(decoded, texts, strict=True))
            if i not in good_set
        ]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(fields)
    frame = {name: object_array(list(values)) for name, values in zip(fields, columns, strict=True)}
    frame[RAW_PAYLOAD] = object_array(kept)
    return ParsedRecords(records=pd.DataFrame(frame, dtype=object), rejects=reject_frame(rejects))


def _decoded_all(texts: list[Any], decode: Callable[[str], Any]) -> list[Any] | None:
    """Every text's fields in one pass over C calls (the usual case: every payload is a record
    the extract wrote), "record has no id" for a record without one; None when a text is not a
    str or the fields decoder refuses one, for _fields_of to take them one by one."""
    if not all(text.__class__ is str for text in texts):
        return None
    try:
        rows: list[Any] = list(map(msgspec.structs.astuple, map(decode, texts)))
    except Exception:  # refused: _fields_of decides text by text
        return None
    for i, row in enumerate(rows):
        if id_text(row[0]) is None:
            rows[i] = _NO_ID
    return rows


def _fields_of(
    text: Any, decode: Callable[[str], Any], fields: tuple[str, ...]
) -> tuple[Any, ...] | str:
    """The record's ``fields`` values, or the reason it is not a record (as _decode gives it).

    Only a str goes through the fields decoder, and only its success is taken: anything it
    refuses (not an object, a lone surrogate escape, a number out of range...) is decoded again
    the whole way, which accepts or rejects it exactly as a whole-record parse does. Where the
    fields decoder succeeds the whole decode does too, with the same values in those fields.
    """
    if text.__class__ is str:
        try:
            row: tuple[Any, ...] = msgspec.structs.astuple(decode(text))
        except Exception:  # refused here: the whole decode below decides
            pass
        else:
            return row if id_text(row[0]) is not None else _NO_ID
    rec = _decode(text)
    if isinstance(rec, str):  # the reason
        return rec
    return tuple(rec.get(name) for name in fields)


@cache
def _fields_decoder(fields: tuple[str, ...]) -> Callable[[str], Any]:
    """A decoder of record texts into a struct of ``fields`` (None where a record lacks one);
    other fields are skipped, still checked as JSON."""
    struct = msgspec.defstruct("Fields", [(name, Any, None) for name in fields], gc=False)
    return msgspec.json.Decoder(struct).decode


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
    if id_text(rec.get(ID)) is None:
        return "record has no id"
    return rec


def _raw_text(payload: Any) -> str | None:
    if isinstance(payload, bytes | bytearray):
        return payload.decode("utf-8", errors="replace")
    return payload if isinstance(payload, str) else None


def reject_frame(rows: list[RejectRow]) -> pd.DataFrame:
    """Rejected records as a frame with REJECT_COLUMNS."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(REJECT_COLUMNS)
    return pd.DataFrame(
        {
            name: object_array(list(values))
            for name, values in zip(REJECT_COLUMNS, columns, strict=True)
        },
        dtype=object,
    )


def _none_for_missing(values: np.ndarray) -> np.ndarray:
    """Missing values (NaN from fields absent in some records) as None."""
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = None
    return values


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
