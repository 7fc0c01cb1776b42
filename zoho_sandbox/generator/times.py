"""Times of generated records: the history they span, and Zoho's ISO-8601 formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

DEFAULT_ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
HISTORY_DAYS = 180


def record_times(anchor_ts: int, h: int) -> tuple[int, int]:
    """(Created_Time, Modified_Time) as UTC epoch seconds from a record's hash: created within
    the history, modified later (mostly soon after), and 2% on the hour of a mass update."""
    span = HISTORY_DAYS * 86400
    created = anchor_ts - span + (h & 0xFFFFFFFF) % span
    age = anchor_ts - created
    frac = ((h >> 32) & 0xFFFF) / 65536.0
    modified = created + int(age * frac * frac)
    if (h >> 48) % 50 == 0:
        # a mass update: many records share one Modified_Time (ties across page boundaries)
        modified = modified - modified % 3600
        modified = max(modified, created)
    return created, modified


@lru_cache(maxsize=4096)
def closing_date(anchor_ts: int, days: int) -> str:
    return (datetime.fromtimestamp(anchor_ts, UTC).date() + timedelta(days=days)).isoformat()


def iso_time(ts: int, offset_minutes: int = 0) -> str:
    """Zoho's time format: ISO-8601 to the second, with an offset."""
    return datetime.fromtimestamp(ts, _tz(offset_minutes)).isoformat()


@lru_cache(maxsize=64)
def _tz(offset_minutes: int) -> timezone:
    return timezone(timedelta(minutes=offset_minutes))
