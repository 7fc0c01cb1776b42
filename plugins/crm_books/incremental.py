"""The one read-window rule of both DAGs: what an incremental read starts from."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from crm_books.customers.plan import SyncRun

# Re-read a little before the lower bound: CRM clocks and commit order are not exact.
DEFAULT_OVERLAP = timedelta(minutes=10)


def read_from(run: SyncRun, high_water_mark: datetime | None) -> datetime | None:
    """Lower bound of an incremental read: the earlier of the interval start and the high-water
    mark, minus the overlap. None means read everything (first run or full refresh)."""
    if run.full_refresh or high_water_mark is None:
        return None
    bounds = [b for b in (run.interval_start, high_water_mark) if b is not None]
    return min(bounds) - run.overlap
