"""E15: how old each module's last successful sync is, and whether that is too old (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_books import config
from crm_books_ui.queries import LastSuccess

FRESHNESS_VARIABLE = "books_freshness_threshold_hours"
DEFAULT_THRESHOLD = timedelta(hours=26)


class BadThreshold(ValueError):
    """The freshness Variable is not a positive number of hours."""


@dataclass(frozen=True)
class Freshness:
    """One module's age since its last good sync; ``stale`` when past the threshold or never."""

    module: str
    last_success: datetime | None
    run_id: str | None
    age: timedelta | None
    stale: bool

    @property
    def age_text(self) -> str:
        if self.age is None:
            return "never synced successfully"
        hours = self.age.total_seconds() / 3600
        if hours < 1:
            return f"{max(int(self.age.total_seconds() // 60), 0)} min ago"
        return f"{hours:.0f} h ago" if hours < 72 else f"{hours / 24:.1f} days ago"


def threshold_hours(raw: str | None) -> timedelta:
    """The Variable's value (hours, e.g. ``26`` or ``36.5``); unset means the default 26 h."""
    if raw is None or not str(raw).strip():
        return DEFAULT_THRESHOLD
    try:
        hours = float(str(raw).strip())
    except ValueError:
        hours = -1.0
    if not hours > 0:
        raise BadThreshold(
            f"Variable {FRESHNESS_VARIABLE} is {raw!r}: set it to a number of hours above 0 "
            f"(e.g. 26), or delete it for the default {DEFAULT_THRESHOLD.total_seconds() / 3600:.0f} h"
        )
    return timedelta(hours=hours)


def freshness(
    last: Iterable[LastSuccess],
    *,
    now: datetime,
    threshold: timedelta,
    modules: Sequence[str] = config.SYNC_MODULES,
) -> tuple[Freshness, ...]:
    """Every synced module (and every module the sync should read) with its age and verdict."""
    by_module = {s.module: s for s in last}
    result = []
    for module in dict.fromkeys([*modules, *by_module]):
        seen = by_module.get(module)
        when = seen.finished_at if seen else None
        age = now - when if when else None
        result.append(
            Freshness(
                module=module,
                last_success=when,
                run_id=seen.run_id if seen else None,
                age=age,
                stale=age is None or age > threshold,
            )
        )
    return tuple(result)
