"""Pages of records, field chunks and Zoho's time format."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crm_books.zoho.endpoints import (
    ID_FIELD,
    SORT_FIELD,
)

Record = dict[str, Any]


Page = list[Record]


def parse_zoho_time(value: str) -> datetime:
    """Parse a Zoho ISO-8601 time keeping its offset (`2024-03-01T10:00:00+05:30`)."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_zoho_time(value: datetime) -> str:
    """`If-Modified-Since` as Zoho accepts it: ISO-8601 with offset, whole seconds (floored)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # naive means UTC
    return aware.replace(microsecond=0).isoformat()


def split_fields(fields: Sequence[str], max_per_call: int) -> list[tuple[str, ...]]:
    """Chunks of at most `max_per_call` fields, each carrying id and Modified_Time for merging."""
    keys = (ID_FIELD, SORT_FIELD)
    rest = [f for f in dict.fromkeys(fields) if f not in keys]
    room = max_per_call - len(keys)
    if room < 1:
        raise ValueError(f"max_fields_per_call must be at least {len(keys) + 1}")
    if not rest:
        return [keys]
    return [keys + tuple(rest[i : i + room]) for i in range(0, len(rest), room)]


class Boundary:
    """The latest Modified_Time yielded and the ids yielded at exactly that time.

    Holding only the ids at the boundary keeps memory flat while a query restarted from that
    time (Zoho's If-Modified-Since is inclusive) skips what was already yielded.
    """

    def __init__(self) -> None:
        self.time: datetime | None = None
        self.ids: set[str] = set()

    def admit(self, records: Iterable[Record]) -> Page:
        fresh: Page = []
        for record in records:
            raw = record.get(SORT_FIELD)
            record_id = str(record.get(ID_FIELD))
            if not raw:
                fresh.append(record)
                continue
            modified = parse_zoho_time(raw)
            if self.time is None or modified > self.time:
                self.time, self.ids = modified, {record_id}
            elif modified == self.time:
                if record_id in self.ids:
                    continue
                self.ids.add(record_id)
            fresh.append(record)
        return fresh


@dataclass
class ReadStats:
    records: int = 0
    pages: int = 0
    queries: int = 0
    started: float = field(default_factory=time.monotonic)
