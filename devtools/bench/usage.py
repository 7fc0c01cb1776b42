"""What a sync used of Zoho's limits, and whether it read every record exactly once.

Two sources: the sandbox's stats endpoint (``usage``: token grants, credits, Bulk Read jobs,
peak calls in flight; reset before each run) and the run log the extract wrote
(books.sync_runs api_calls, api_credits, bulk_jobs per module). The ids check compares the ids
staged by the run's extract with the ids the sandbox generated (or changed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import requests
from sqlalchemy import Engine, text

from crm_books import config as crm_config
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


# -- the timeline of calls (GET /__sandbox/timeline) ---------------------------------------
@dataclass(frozen=True)
class Call:
    """One API call as the sandbox's timeline saw it (seconds since its stats were reset)."""

    start: float
    end: float
    label: str
    path: str = ""

    @property
    def seconds(self) -> float:
        return self.end - self.start


def timeline_calls(base_url: str) -> list[Call]:
    """The sandbox's timeline since the last stats reset, each call labelled by what it read."""
    resp = requests.get(f"{base_url}/__sandbox/timeline", timeout=ADMIN_TIMEOUT)
    resp.raise_for_status()
    return sorted(
        (
            Call(float(c["start"]), float(c["end"]), call_label(c), str(c["path"]))
            for c in resp.json()["calls"]
        ),
        key=lambda c: c.start,
    )


def call_label(call: Mapping[str, Any]) -> str:
    """``Accounts p3 since 10:05:00`` / ``Contacts count`` / ``Accounts deleted``."""
    parts = [p for p in str(call["path"]).split("/") if p]
    module = next((p for p in parts if p in crm_config.MODULE_FIELDS), "-")
    kind = parts[-1] if parts[-1] != module else ""
    since = str(call.get("since") or "")[11:19]
    page = f"p{call['page']}" if "page" in call else "token" if "page_token" in call else ""
    where = f"since {since}" if since else ""
    status = "" if call["status"] == 200 else f"[{call['status']}]"
    return " ".join(p for p in (module, kind, page, where, status) if p)


@dataclass(frozen=True)
class Utilisation:
    """How well the calls filled ``slots`` in-flight slots over ``wall`` seconds."""

    calls: int
    busy: float  # sum of call durations
    wall: float
    slots: int
    below: dict[int, float]  # seconds with exactly n calls in flight, n < slots

    @property
    def ratio(self) -> float:
        return self.busy / (self.slots * self.wall) if self.wall > 0 else 0.0

    def describe(self) -> str:
        gaps = ", ".join(f"{n} in flight {s:.2f} s" for n, s in sorted(self.below.items()))
        return (
            f"{self.calls} calls, {self.busy:.2f} call-s over {self.wall:.2f} s x {self.slots} "
            f"slots = {self.ratio:.0%} utilisation; below the cap: {gaps}"
        )


def utilisation(calls: Sequence[Call], slots: int, wall: float) -> Utilisation:
    """The calls' use of ``slots`` over ``wall`` seconds from the first call's start."""
    origin = calls[0].start if calls else 0.0
    edges = sorted({origin + wall, *(c.start for c in calls), *(c.end for c in calls)})
    below: dict[int, float] = {}
    for left, edge in pairwise(edges):
        right = min(edge, origin + wall)
        if right <= left:
            continue
        n = sum(1 for c in calls if c.start <= left and c.end >= right)
        if n < slots:
            below[n] = below.get(n, 0.0) + right - left
    busy = sum(c.seconds for c in calls)
    return Utilisation(len(calls), busy, wall, slots, below)


def extract_timeline(base_url: str, slots: int) -> str:
    """The utilisation line of the extract's calls since the last stats reset (the organisation
    check's /org call left out)."""
    calls = [c for c in timeline_calls(base_url) if not c.path.endswith("/org")]
    if not calls:
        return "no calls"
    span = max(c.end for c in calls) - calls[0].start
    return utilisation(calls, slots, span).describe()
