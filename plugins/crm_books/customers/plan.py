"""What one run of crm_books_sync is asked to do, and its small JSON form passed between tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crm_books import config
from crm_books.incremental import DEFAULT_OVERLAP

DEFAULT_MAX_REJECT_FRACTION = 0.2


@dataclass(frozen=True)
class SyncRun:
    """What one run of crm_books_sync is asked to do."""

    run_id: str
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    full_refresh: bool = False
    modules: tuple[str, ...] = config.SYNC_MODULES
    dag_id: str = config.SYNC_DAG_ID
    overlap: timedelta = DEFAULT_OVERLAP
    max_reject_fraction: float = DEFAULT_MAX_REJECT_FRACTION

    def to_dict(self) -> dict[str, Any]:
        """The run as plain JSON values (an XCom the later tasks take as their argument)."""
        return {
            "run_id": self.run_id,
            "dag_id": self.dag_id,
            "interval_start": _iso(self.interval_start),
            "interval_end": _iso(self.interval_end),
            "modules": list(self.modules),
            "full_refresh": self.full_refresh,
            "max_reject_fraction": self.max_reject_fraction,
            "overlap_seconds": self.overlap.total_seconds(),
        }

    @classmethod
    def from_dict(cls, plan: dict[str, Any]) -> SyncRun:
        """The run ``to_dict`` described; keys it lacks take their defaults."""
        return cls(
            run_id=str(plan["run_id"]),
            dag_id=str(plan.get("dag_id", config.SYNC_DAG_ID)),
            interval_start=_parsed(plan.get("interval_start")),
            interval_end=_parsed(plan.get("interval_end")),
            modules=tuple(plan.get("modules", config.SYNC_MODULES)),
            full_refresh=bool(plan.get("full_refresh", False)),
            max_reject_fraction=float(plan.get("max_reject_fraction", DEFAULT_MAX_REJECT_FRACTION)),
            overlap=timedelta(
                seconds=float(plan.get("overlap_seconds", DEFAULT_OVERLAP.total_seconds()))
            ),
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parsed(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
