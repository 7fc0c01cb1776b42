"""Bounded retries with backoff and Retry-After."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retrying 429, 5xx, connection errors and timeouts."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total_seconds: float = 300.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), if usable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def backoff_delay(
    attempt: int, policy: RetryPolicy, retry_after: float | None, rnd: Callable[[], float]
) -> float:
    """Zoho's `Retry-After` when given, else exponential backoff with full jitter."""
    if retry_after is not None:
        return retry_after
    ceiling = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
    return rnd() * ceiling
