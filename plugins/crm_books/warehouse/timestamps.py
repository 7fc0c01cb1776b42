"""Timestamps as the warehouse stores them (UTC, one text form)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from datetime import UTC


def db_now() -> str:
    return db_timestamp(utcnow()) or ""


def utcnow() -> datetime:
    return datetime.now(UTC)


_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f+00:00"


def db_timestamp(value: datetime | None) -> str | None:
    """One fixed UTC text form for every stored time, so SQLite compares them correctly as text."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must carry a time zone")
    # isoformat is C code and writes what _TS_FORMAT describes, about twice as fast as strftime.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds") + "+00:00"


def as_utc(value: datetime | str | None) -> datetime | None:
    """A stored time (datetime on PostgreSQL, text on SQLite) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
