"""What a sync used of Zoho's limits, and whether it read every record exactly once.

Two sources: the sandbox's stats endpoint (``usage``: token grants, credits, Bulk Read jobs,
peak calls in flight; reset before each run) and the run log the extract wrote
(books.sync_runs api_calls, api_credits, bulk_jobs per module). The ids check compares the ids
staged by the run's extract with the ids the sandbox generated (or changed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy import Engine, text

from devtools.bench.stack import bench_sql

ADMIN_TIMEOUT = 60


def usage_between(before: Counter[str], after: Counter[str]) -> Counter[str]:
    """What the calls between two readings of ``sandbox_usage`` used; the peak in flight is the
    later reading's (a peak does not subtract)."""
    used = after - before
    used["peak_in_flight"] = after["peak_in_flight"]
    return used


def usage_columns(used: Counter[str]) -> dict[str, int]:
    """The report row's credits and grants columns from a reading of ``sandbox_usage``."""
    return {"credits": used["credits_used"], "grants": used["token_grants"]}


def reset_usage(base_url: str) -> None:
    """Clear the sandbox's counters (``DELETE /__sandbox/stats``)."""
    requests.delete(f"{base_url}/__sandbox/stats", timeout=ADMIN_TIMEOUT).raise_for_status()


def sandbox_usage(base_url: str) -> Counter[str]:
    """The sandbox's usage counters since the last reset, by the names its stats endpoint gives
    them (``zoho_sandbox.stats``: token_grants, credits_used, bulk_jobs, peak_in_flight, ...)."""
    resp = requests.get(f"{base_url}/__sandbox/stats", timeout=ADMIN_TIMEOUT)
    resp.raise_for_status()
    return Counter({name: int(n) for name, n in resp.json()["usage"].items()})


def sandbox_profile(base_url: str) -> dict[str, Any]:
    """``GET /__sandbox/profile``: the profile's name and every knob in force."""
    resp = requests.get(f"{base_url}/__sandbox/profile", timeout=ADMIN_TIMEOUT)
    resp.raise_for_status()
    return dict(resp.json())


@dataclass(frozen=True)
class ModuleUsage:
    """One module's extract as books.sync_runs recorded it."""

    extracted: int
    api_calls: int
    api_credits: int
    bulk_jobs: int


def run_log_usage(engine: Engine, run_id: str) -> dict[str, ModuleUsage]:
    """books.sync_runs' usage columns of one run, by module."""
    with engine.connect() as conn:
        rows = conn.execute(text(bench_sql("select_sync_run_usage")), {"run_id": run_id})
        return {
            str(r.module): ModuleUsage(
                int(r.extracted or 0),
                int(r.api_calls or 0),
                int(r.api_credits or 0),
                int(r.bulk_jobs or 0),
            )
            for r in rows
        }


def staged_ids(engine: Engine, run_id: str, module: str) -> list[str]:
    """The ids one run's extract staged for ``module``, once per time it staged each."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(bench_sql("select_staged_ids")), {"run_id": run_id, "module": module}
        )
        return [str(r[0]) for r in rows]


@dataclass(frozen=True)
class IdCheck:
    """Ids read against ids expected, for one module."""

    module: str
    read: int
    expected: int
    missing: int
    twice: int
    unexpected: int

    @property
    def exact(self) -> bool:
        return self.missing == 0 and self.twice == 0 and self.unexpected == 0


def check_ids(
    module: str, read: Iterable[str], expected: Iterable[str], *, others_allowed: bool = False
) -> IdCheck:
    """Every expected id read, none twice; ids not expected are counted (and allowed when the
    read may take in more, e.g. the incremental run's overlap window)."""
    counts = Counter(read)
    wanted = set(expected)
    missing = sum(1 for i in wanted if i not in counts)
    twice = sum(1 for n in counts.values() if n > 1)
    unexpected = 0 if others_allowed else sum(1 for i in counts if i not in wanted)
    return IdCheck(module, sum(counts.values()), len(wanted), missing, twice, unexpected)


def describe_checks(checks: Iterable[IdCheck], *, others: Mapping[str, int] | None = None) -> str:
    """One line: "yes" or "**no**", then each module's counts."""
    checks = list(checks)
    parts = []
    for c in checks:
        line = f"{c.module} {c.read:,} read of {c.expected:,} expected"
        details = [f"{c.missing:,} missing", f"{c.twice:,} read twice"]
        if others is not None:
            details.append(f"{others.get(c.module, 0):,} more from the overlap window")
        else:
            details.append(f"{c.unexpected:,} not generated")
        parts.append(f"{line} ({', '.join(details)})")
    verdict = "yes" if all(c.exact for c in checks) else "**no**"
    return f"{verdict}: " + "; ".join(parts)
