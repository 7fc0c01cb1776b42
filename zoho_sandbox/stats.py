"""Request counters of the sandbox (API and token endpoint; admin calls are not counted), and the
usage of Zoho's limits: token grants, calls in flight, credits and Bulk Read jobs."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any
from urllib.parse import parse_qs

USAGE_COUNTERS = (
    "token_grants",
    "token_denials",
    "tokens_evicted",
    "credits_used",
    "concurrency_refusals",
    "credit_refusals",
    "bulk_jobs",
    "bulk_downloads",
    "bulk_download_refusals",
)


class Usage:
    """What the calls used of Zoho's limits; `peak_in_flight` is the most calls ever in flight
    at once since the last reset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.in_flight = 0
        self.peak_in_flight = 0

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def enter(self, cap: int = 0) -> bool:
        """One more call in flight, unless `cap` (0: none) are already; False if refused."""
        with self._lock:
            if cap and self.in_flight >= cap:
                return False
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            return True

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def reset(self) -> None:
        """Clears the counters; the peak restarts from the calls in flight now."""
        with self._lock:
            self.counts.clear()
            self.peak_in_flight = self.in_flight

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            out = {name: self.counts[name] for name in USAGE_COUNTERS}
            out["in_flight"] = self.in_flight
            out["peak_in_flight"] = self.peak_in_flight
            return out


# API calls the timeline keeps (the latest), for benchmarks' utilisation of the in-flight slots.
TIMELINE_CALLS = 20_000
# Query parameters a timeline entry keeps: where in a read the call was.
TIMELINE_PARAMS = ("page", "page_token", "criteria", "type")


class Timeline:
    """The latest API calls' start and end (seconds since the last reset, as the sandbox saw
    them: gates and latency included), method, path, status, paging parameters and
    If-Modified-Since."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: deque[dict[str, Any]] = deque(maxlen=TIMELINE_CALLS)
        self.origin = time.monotonic()

    def record(
        self, started: float, method: str, path: str, query: str, since: str | None, status: int
    ) -> None:
        params = {k: v[0] for k, v in parse_qs(query).items() if k in TIMELINE_PARAMS}
        entry = {
            "start": round(started - self.origin, 4),
            "end": round(time.monotonic() - self.origin, 4),
            "method": method,
            "path": path,
            "status": status,
            "since": since,
            **params,
        }
        with self._lock:
            self.calls.append(entry)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.origin = time.monotonic()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.calls)


class Stats:
    """Counts by status, path, Zoho error code and "METHOD path status", plus the usage and the
    timeline of API calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.usage = Usage()
        self.timeline = Timeline()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.by_status: Counter[int] = Counter()
            self.by_path: Counter[str] = Counter()
            self.by_code: Counter[str] = Counter()
            self.by_request: Counter[str] = Counter()
        self.usage.reset()
        self.timeline.reset()

    def record(self, method: str, path: str, status: int, code: str | None) -> None:
        with self._lock:
            self.by_status[status] += 1
            self.by_path[path] += 1
            self.by_request[f"{method} {path} {status}"] += 1
            if code:
                self.by_code[code] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {
                "total": sum(self.by_status.values()),
                "by_status": dict(self.by_status),
                "by_path": dict(self.by_path),
                "by_code": dict(self.by_code),
                "by_request": dict(self.by_request),
            }
        out["usage"] = self.usage.snapshot()
        return out
