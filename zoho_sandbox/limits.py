"""The gates of Zoho's limits on API calls: the concurrency cap, the credit budget and latency."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable

from zoho_sandbox.errors import ApiError
from zoho_sandbox.messages import Request, Response
from zoho_sandbox.profiles import Knobs
from zoho_sandbox.stats import Usage

CONCURRENCY_MESSAGE = "You have exceeded the concurrency limit (calls in flight) of your edition"
CREDITS_MESSAGE = "You have exceeded the API credits limit of your edition for the last 24 hours"


def too_many_requests(message: str, retry_after: float, **details: object) -> Response:
    """Zoho's 429 TOO_MANY_REQUESTS, with a Retry-After in whole seconds (at least 1)."""
    err = ApiError(429, "TOO_MANY_REQUESTS", message, dict(details))
    return err.response({"Retry-After": str(max(1, int(retry_after + 0.999)))})


class SlidingWindow:
    """Events in the last `window` seconds (monotonic time): take() one if fewer than `limit`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._times: deque[float] = deque()
        self._lock = threading.Lock()
        self._clock = clock

    def take(self, limit: int, window: float, n: int = 1) -> float | None:
        """None if the events fit (and are recorded), else seconds until the oldest leaves.
        No limit (0): nothing is recorded, so a window only counts while its cap is on."""
        if not limit:
            return None
        with self._lock:
            now = self._clock()
            while self._times and self._times[0] <= now - window:
                self._times.popleft()
            if len(self._times) + n > limit:
                return self._times[0] + window - now if self._times else window
            self._times.extend([now] * n)
            return None

    def __len__(self) -> int:
        return len(self._times)


class ConcurrencyGate:
    """At most `max_concurrency` calls in flight per org (the sandbox serves one org); the
    usage records the peak whether or not a cap is set."""

    def __init__(self, knobs: Callable[[], Knobs], usage: Usage) -> None:
        self.knobs, self.usage = knobs, usage

    def admit(self, request: Request) -> Response | None:
        cap = self.knobs().max_concurrency
        if not self.usage.enter(cap):
            self.usage.add("concurrency_refusals")
            return too_many_requests(CONCURRENCY_MESSAGE, 1, limit=cap)
        return None

    def release(self, request: Request) -> None:
        self.usage.leave()


class CreditGate:
    """One credit per API call, within `credit_budget` per rolling `credit_window_seconds`."""

    def __init__(self, knobs: Callable[[], Knobs], usage: Usage) -> None:
        self.knobs, self.usage = knobs, usage
        self.window = SlidingWindow()

    def admit(self, request: Request) -> Response | None:
        k = self.knobs()
        wait = self.window.take(k.credit_budget, k.credit_window_seconds)
        if wait is not None:
            self.usage.add("credit_refusals")
            return too_many_requests(
                CREDITS_MESSAGE, wait, credits_used=len(self.window), limit=k.credit_budget
            )
        self.usage.add("credits_used")
        return None

    def release(self, request: Request) -> None:
        """Credits are spent when a call is admitted."""


class LatencyGate:
    """Each admitted call takes latency_ms plus a seeded random 0..jitter_ms (it holds its
    concurrency slot meanwhile, as a call Zoho is still working on does)."""

    def __init__(self, knobs: Callable[[], Knobs], seed: int = 0) -> None:
        self.knobs = knobs
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def admit(self, request: Request) -> Response | None:
        k = self.knobs()
        if k.latency_ms or k.jitter_ms:
            with self._lock:
                jitter = self._rng.random() * k.jitter_ms
            time.sleep((k.latency_ms + jitter) / 1000)
        return None

    def release(self, request: Request) -> None:
        """Nothing held."""
