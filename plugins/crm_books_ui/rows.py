"""Warehouse rows as the page's dataclasses: each field is read from the row's column of the same
name and converted by the type the dataclass declares, so a record type is its own mapping."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from crm_books.documents import _day, _money
from crm_books.warehouse.timestamps import as_utc

T = TypeVar("T")


def _optional_money(value: Any) -> Decimal | None:
    return None if value is None else _money(value)


def _as_is(value: Any) -> Any:
    return value


# A declared type (as written in the dataclass) -> how a column value becomes it. A field of any
# other type must be given to from_row by name.
_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "str": str,
    "int": int,
    "bool": bool,
    "str | None": _as_is,
    "datetime | None": as_utc,
    "Decimal": lambda value: _optional_money(value) or Decimal("0.00"),
    "Decimal | None": _optional_money,
    "date": _day,
}


_FIELDS: dict[type, tuple[tuple[str, Callable[[Any], Any] | None], ...]] = {}


def _fields(cls: type) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """Each field's name and conversion, worked out once per record type."""
    if cls not in _FIELDS:
        _FIELDS[cls] = tuple(
            (f.name, _CONVERTERS.get(str(f.type))) for f in dataclasses.fields(cls)
        )
    return _FIELDS[cls]


def from_row(cls: type[T], row: Mapping[str, Any], **given: Any) -> T:
    """``cls`` from ``row``: the fields in ``given`` as they are, every other one from its column."""
    values = dict(given)
    for name, convert in _fields(cls):
        if name in values:
            continue
        if convert is None:
            raise TypeError(f"{cls.__name__}.{name}: no conversion for its type; give it by name")
        values[name] = convert(row[name])
    return cls(**values)
