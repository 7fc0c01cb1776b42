"""Profiles: how strictly the sandbox plays Zoho, as knobs read by the gates every call passes."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Protocol

from zoho_sandbox.errors import invalid
from zoho_sandbox.messages import Request, Response


class Gate(Protocol):
    """A policy an incoming call passes before its endpoint runs. `admit` answers in the
    endpoint's place (a refusal, an injected failure) or returns None to let the call through;
    `release` runs after the endpoint of every admitted call, e.g. to free a concurrency slot."""

    def admit(self, request: Request) -> Response | None: ...

    def release(self, request: Request) -> None: ...


def _knob(default: Any, meaning: str) -> Any:
    """A knob's default and what it does (the `serve --help` text of its flag)."""
    return field(default=default, metadata={"help": meaning})


@dataclass(frozen=True)
class Knobs:
    """Zoho's limits as the sandbox enforces them; 0 switches a cap off (see docs/sandbox.md)."""

    latency_ms: float = _knob(0.0, "time each API call takes (ms)")
    jitter_ms: float = _knob(0.0, "plus a random 0..jitter (ms)")
    max_concurrency: int = _knob(0, "calls in flight; beyond: 429 TOO_MANY_REQUESTS")
    token_grants_per_window: int = _knob(0, 'grants per refresh token; beyond: "Access Denied"')
    token_window_seconds: float = _knob(600.0, "the token-grant window (s)")
    max_live_tokens: int = _knob(0, "the next grant evicts the oldest (INVALID_OAUTHTOKEN)")
    credit_budget: int = _knob(0, "1 credit per API call per window; beyond: 429")
    credit_window_seconds: float = _knob(86400.0, "the credit window (s)")
    validate_writes: bool = _knob(False, "malformed emails, missing lookups: INVALID_DATA")
    bulk_page_records: int = _knob(200_000, "records per Bulk Read job page")
    bulk_job_base_seconds: float = _knob(0.0, "a Bulk Read job's time until COMPLETED (s) ...")
    bulk_job_seconds_per_record: float = _knob(0.0, "... plus this per record (s)")
    bulk_downloads_per_minute: int = _knob(0, "Bulk Read result downloads; beyond: 429")
    bulk_fail_every: int = _knob(0, "every Nth Bulk Read job ends FAILED")

    def updated(self, settings: dict[str, Any]) -> Knobs:
        """These knobs with some replaced (admin JSON or CLI values, coerced to each type)."""
        types = {f.name: f.type for f in fields(self)}
        unknown = set(settings) - set(types)
        if unknown:
            raise invalid(f"unknown knobs: {sorted(unknown)} (known: {sorted(types)})")
        coerced = {name: _coerce(name, types[name], v) for name, v in settings.items()}
        return replace(self, **coerced)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(name: str, kind: Any, value: Any) -> Any:
    try:
        if kind in (bool, "bool"):
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        number = float(value)
    except (TypeError, ValueError):
        raise invalid(f"knob {name} must be a number", knob=name) from None
    if number < 0:
        raise invalid(f"knob {name} must be at least 0", knob=name)
    return int(number) if kind in (int, "int") else number


ZOHO = Knobs(
    latency_ms=300.0,
    jitter_ms=50.0,
    max_concurrency=10,
    token_grants_per_window=10,
    max_live_tokens=15,
    credit_budget=50_000,
    validate_writes=True,
    bulk_job_base_seconds=2.0,
    bulk_job_seconds_per_record=0.0002,
    bulk_downloads_per_minute=10,
)
PROFILES: dict[str, Knobs] = {"default": Knobs(), "zoho": ZOHO}


def profile(name: str) -> Knobs:
    try:
        return PROFILES[name]
    except KeyError:
        raise invalid(f"unknown sandbox profile {name!r} (known: {sorted(PROFILES)})") from None


class KnobSwitch:
    """The profile and knobs in force; gates read `knobs` on every call, the admin API sets them."""

    def __init__(self, name: str, overrides: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self.name = name
        self.knobs = profile(name).updated(overrides or {})

    def set(self, name: str | None, settings: dict[str, Any]) -> Knobs:
        """Start from profile `name`'s defaults when given, then apply `settings`."""
        with self._lock:
            base = profile(name) if name else self.knobs
            self.knobs = base.updated(settings)
            self.name = name or self.name
            return self.knobs


def admit(gates: tuple[Gate, ...], request: Request) -> tuple[Response | None, int]:
    """The first refusal among the gates (or None), and how many gates admitted the call."""
    for n, gate in enumerate(gates):
        refusal = gate.admit(request)
        if refusal is not None:
            return refusal, n
    return None, len(gates)


def release(gates: tuple[Gate, ...], request: Request) -> None:
    """Releases the gates that admitted a call, last admitted first."""
    for gate in reversed(gates):
        gate.release(request)
