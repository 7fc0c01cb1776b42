"""What a client's calls cost in Zoho's API budget: calls sent, credits used, Bulk Read jobs."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    """Counts at one moment; subtract two to get what happened in between."""

    api_calls: int = 0  # API requests sent, retried attempts included (not the token endpoint)
    api_credits: int = 0  # credits Zoho charged: 1 per answered call (a records GET costs 1)
    bulk_jobs: int = 0  # Bulk Read jobs created

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.api_calls - other.api_calls,
            self.api_credits - other.api_credits,
            self.bulk_jobs - other.bulk_jobs,
        )


class UsageMeter:
    """Counts a client's calls; thread-safe (concurrent windows share one client)."""

    def __init__(self) -> None:
        self._usage = Usage()
        self._lock = threading.Lock()

    def record_call(self, status: int | None, credits: int = 1) -> None:
        """One API request and its HTTP status (None: no answer). Zoho charges answered calls
        (2xx, 304), not refusals (429 over the cap, 401 expired token) or server errors."""
        charged = credits if status is not None and status < 400 else 0
        with self._lock:
            u = self._usage
            self._usage = Usage(u.api_calls + 1, u.api_credits + charged, u.bulk_jobs)

    def record_bulk_job(self) -> None:
        with self._lock:
            u = self._usage
            self._usage = Usage(u.api_calls, u.api_credits, u.bulk_jobs + 1)

    def snapshot(self) -> Usage:
        with self._lock:
            return self._usage
