"""Switchable faults: 429 every Nth API call, seeded random 5xx, slow answers, short-lived tokens."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from zoho_sandbox.errors import ApiError
from zoho_sandbox.messages import Request, Response


@dataclass(frozen=True)
class Faults:
    """Switchable faults; 0 / None switches one off. Tokens expire token_ttl_seconds after they
    were issued (checked on use, so lowering it also expires tokens already handed out)."""

    rate_limit_every: int = 0
    error_rate: float = 0.0
    slow_seconds: float = 0.0
    token_ttl_seconds: float | None = 3600
    seed: int | None = None
    retry_after_seconds: int = 1

    @classmethod
    def of(cls, **settings: Any) -> Faults:
        """Faults from loosely typed settings (the admin API's JSON); unnamed ones are off, and
        an unknown name is a TypeError like a call with a wrong keyword."""
        f = cls(**settings)
        return cls(
            rate_limit_every=int(f.rate_limit_every or 0),
            error_rate=float(f.error_rate or 0.0),
            slow_seconds=float(f.slow_seconds or 0.0),
            token_ttl_seconds=f.token_ttl_seconds or None,
            seed=f.seed,
            retry_after_seconds=int(f.retry_after_seconds),
        )


class FaultSwitch:
    """The fault settings in force, and the gate that injects them into API calls (after
    authentication, like Zoho's gateway)."""

    def __init__(self) -> None:
        self.settings = Faults()
        self._rng = random.Random(0)
        self._calls = 0
        self._lock = threading.Lock()

    def set(self, faults: Faults) -> None:
        """Replace every setting and restart the call counter and the random sequence."""
        with self._lock:
            self.settings = faults
            self._rng = random.Random(faults.seed if faults.seed is not None else 0)
            self._calls = 0

    def admit(self, request: Request) -> Response | None:
        """A 429 on every Nth call, a random 5xx at error_rate, or None to let the call through."""
        with self._lock:
            f = self.settings
            self._calls += 1
            calls = self._calls
            fail = f.error_rate > 0 and self._rng.random() < f.error_rate
            status = self._rng.choice((500, 502, 503)) if fail else 0
        if f.rate_limit_every and calls % f.rate_limit_every == 0:
            err = ApiError(429, "TOO_MANY_REQUESTS", "Too many requests")
            return err.response({"Retry-After": str(f.retry_after_seconds)})
        if status == 500:
            return ApiError(500, "INTERNAL_ERROR", "Internal Server Error").response()
        if status:
            # Zoho's front end answers gateway errors with HTML, not JSON
            html = f"<html><body><h1>{status} {HTTPStatus(status).phrase}</h1></body></html>"
            return Response(status, html.encode(), {"Content-Type": "text/html"})
        return None

    def release(self, request: Request) -> None:
        """Nothing to give back: the switches hold no per-call state."""
