"""What the sandbox's profile allows an extract to reach: the REST and Bulk Read bounds (pure).

The settings come from the sandbox's admin API (``GET /__sandbox/profile``), never from
constants here; the models are those of docs/sandbox.md:

- REST reads: ``in_flight * 200 / latency_seconds`` records/s, with
  ``in_flight = min(client max_concurrency, the sandbox's cap)`` and
  ``latency_seconds = (latency_ms + jitter_ms / 2) / 1000`` (the mean of the seeded jitter);
- Bulk Read: per job page of N records, ``bulk_job_base_seconds +
  bulk_job_seconds_per_record * N`` of job time, plus three calls' latency (create, the poll
  that sees COMPLETED, the download); a module's job pages one after the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REST_PAGE_RECORDS = 200
BULK_CALLS_PER_JOB = 3  # create, the last status poll, the download


@dataclass(frozen=True)
class ProfileLimits:
    """The sandbox profile's settings a bound depends on, and the product client's cap.

    :param profile: the sandbox profile's name (``zoho``, ``default``).
    :param latency_ms: server-side time of each CRM API call.
    :param jitter_ms: plus a random 0..jitter_ms.
    :param cap: the sandbox's concurrency cap (0: none).
    :param client_concurrency: the product client's ``max_concurrency``.
    :param bulk_page_records: records per Bulk Read job page.
    :param bulk_job_base_seconds: a job's fixed time.
    :param bulk_job_seconds_per_record: a job's time per record of its page.
    """

    profile: str
    latency_ms: float
    jitter_ms: float
    cap: int
    client_concurrency: int
    bulk_page_records: int
    bulk_job_base_seconds: float
    bulk_job_seconds_per_record: float

    @classmethod
    def from_admin(cls, answer: Mapping[str, Any], client_concurrency: int) -> ProfileLimits:
        """From ``GET /__sandbox/profile``'s answer (``{"profile": ..., "knobs": {...}}``)."""
        k = answer["knobs"]
        return cls(
            profile=str(answer["profile"]),
            latency_ms=float(k["latency_ms"]),
            jitter_ms=float(k["jitter_ms"]),
            cap=int(k["max_concurrency"]),
            client_concurrency=client_concurrency,
            bulk_page_records=int(k["bulk_page_records"]),
            bulk_job_base_seconds=float(k["bulk_job_base_seconds"]),
            bulk_job_seconds_per_record=float(k["bulk_job_seconds_per_record"]),
        )

    @property
    def latency_seconds(self) -> float:
        return (self.latency_ms + self.jitter_ms / 2) / 1000

    @property
    def in_flight(self) -> int:
        if self.cap <= 0:
            return self.client_concurrency
        return min(self.client_concurrency, self.cap)

    def rest_per_second(self) -> float | None:
        """Records/s REST reads can reach; None with no latency (nothing bounds them)."""
        if self.latency_seconds <= 0:
            return None
        return self.in_flight * REST_PAGE_RECORDS / self.latency_seconds

    def bulk_seconds(self, records: int) -> float:
        """Least time to read ``records`` of one module through Bulk Read job pages in turn."""
        pages = max(1, math.ceil(records / self.bulk_page_records))
        job_time = pages * self.bulk_job_base_seconds + self.bulk_job_seconds_per_record * records
        return job_time + pages * BULK_CALLS_PER_JOB * self.latency_seconds

    def describe(self) -> str:
        rest = self.rest_per_second()
        head = (
            f"{self.profile} profile: latency {self.latency_ms:g} ms + jitter 0..{self.jitter_ms:g}"
            f" ms, sandbox cap {self.cap or 'none'}, client max_concurrency "
            f"{self.client_concurrency}"
        )
        if rest is None:
            return f"{head}; no latency, so no extract bound"
        return (
            f"{head}; REST bound {self.in_flight} in flight x {REST_PAGE_RECORDS} / "
            f"{self.latency_seconds:.3f} s = {rest:,.0f} records/s; Bulk Read bound per job page "
            f"of N records {self.bulk_job_base_seconds:g} s + {self.bulk_job_seconds_per_record:g}"
            f" s x N + {BULK_CALLS_PER_JOB} calls' latency (pages of {self.bulk_page_records:,})"
        )


@dataclass(frozen=True)
class ModuleRead:
    """What one module's extract did: its records, and whether it went through Bulk Read."""

    module: str
    records: int
    bulk: bool


def module_bound_seconds(limits: ProfileLimits, read: ModuleRead) -> float | None:
    """Least time the profile allows for one module's read alone; None when unbounded."""
    rest = limits.rest_per_second()
    if rest is None:
        return None
    if read.bulk:
        return limits.bulk_seconds(read.records)
    return read.records / rest


def extract_bound_seconds(
    limits: ProfileLimits, reads: Sequence[ModuleRead], *, parallel: bool
) -> float | None:
    """Least time for all the modules' reads. At once (``parallel``), the REST reads share the
    in-flight slots and the Bulk Read ones wait for their own jobs; else they add up."""
    rest = limits.rest_per_second()
    if rest is None or not reads:
        return None
    if not parallel:
        return sum(module_bound_seconds(limits, r) or 0.0 for r in reads)
    shared_rest = sum(r.records for r in reads if not r.bulk) / rest
    bulk = [limits.bulk_seconds(r.records) for r in reads if r.bulk]
    return max([shared_rest, *bulk])
