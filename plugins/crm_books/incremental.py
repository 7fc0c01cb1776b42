"""The one read-window rule of both DAGs: what an incremental read starts from."""

from __future__ import annotations

from datetime import datetime, timedelta

# Re-read a little before the lower bound: CRM clocks and commit order are not exact.
DEFAULT_OVERLAP = timedelta(minutes=10)


def read_from(
    interval_start: datetime | None,
    high_water_mark: datetime | None,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> datetime | None:
    """Lower bound of an incremental read: the earlier of the interval start and the high-water
    mark, minus the overlap, so a paused DAG or a failed run loses nothing. None means read
    everything: nothing has been read yet."""
    if high_water_mark is None:
        return None
    return min(b for b in (interval_start, high_water_mark) if b is not None) - overlap
