"""Bounded retries with backoff and Retry-After."""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crm_books.zoho.errors import Failure, Verdict

log = logging.getLogger(__name__)


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


# What one attempt met: the decoded body (None for 204/304), or the failure.
Outcome = dict[str, Any] | Failure | None
Attempt = Callable[[], Outcome]


class Retrier:
    """Repeats one call while its failures are retryable, within the policy's bounds.

    :param policy: bounds on attempts and total seconds, and the backoff curve.
    :param sleep: called with the seconds to wait between attempts (inject a fake in tests).
    :param rnd: the jitter source, a float in [0, 1).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rnd: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self.sleep = sleep
        self.rnd = rnd

    def run(
        self, attempt: Attempt, *, request: str, refresh: Callable[[], None] | None = None
    ) -> dict[str, Any] | None:
        """The attempt's body once it succeeds; a CrmApiError when it fails for good.

        :param attempt: makes the call once.
        :param request: names the call in messages, e.g. `GET /crm/v8/org`.
        :param refresh: drops the rejected access token; called at most once, on REFRESH.
        """
        policy = self.policy
        started = time.monotonic()
        attempts = 0
        refreshed = False
        while True:
            attempts += 1
            outcome = attempt()
            if not isinstance(outcome, Failure):
                return outcome
            if outcome.verdict is Verdict.REFRESH and refresh is not None and not refreshed:
                refreshed = True
                attempts -= 1  # an expired token is not a failed attempt
                log.info("Zoho access token rejected as invalid or expired; refreshing once")
                refresh()
                continue
            if outcome.verdict is not Verdict.RETRY:
                raise outcome.error(request)
            elapsed = time.monotonic() - started
            delay = backoff_delay(attempts, policy, outcome.retry_after, self.rnd)
            if attempts >= policy.max_attempts or elapsed + delay > policy.max_total_seconds:
                raise outcome.gave_up(request, attempts, elapsed)
            log.warning(
                "Zoho %s failed (%s %s), retrying in %.2fs (attempt %d of %d)",
                request,
                outcome.status if outcome.status is not None else "no response",
                outcome.code,
                delay,
                attempts,
                policy.max_attempts,
            )
            self.sleep(delay)
