"""The sandbox's settable clock, and the UTC offset of the org's time zone at a moment."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo


class Clock:
    """The sandbox's notion of now: wall-clock time (plus an offset) until set, then frozen."""

    def __init__(self, start: datetime | None) -> None:
        self._frozen: int | None = epoch(start) if start is not None else None
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            return self._frozen if self._frozen is not None else int(time.time() + self._offset)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._frozen = epoch(when)

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += int(seconds)
            else:
                self._offset += seconds


def epoch(when: datetime) -> int:
    """Epoch seconds of a datetime (naive ones are UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def offset_minutes(time_zone: str, at: int) -> int:
    """The UTC offset of a time zone at epoch second `at`."""
    offset = datetime.fromtimestamp(at, ZoneInfo(time_zone)).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0
