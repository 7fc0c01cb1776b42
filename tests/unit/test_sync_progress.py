"""Extract progress lines tell an operator how far a long read is and when it will end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_books.sync import SyncRun, progress_line, read_from


def test_progress_with_a_known_total_gives_share_rate_and_eta() -> None:
    line = progress_line(12_000, 48_000, 4.0)
    assert line == "12,000 of 48,000 records (25%), 3,000 records/s, ETA 12 s"


def test_progress_without_a_total_gives_count_and_rate_only() -> None:
    assert progress_line(5_000, None, 2.0) == "5,000 records so far, 2,500 records/s"


def test_incremental_bound_is_the_earlier_of_interval_and_mark_minus_overlap() -> None:
    start = datetime(2026, 11, 2, 12, tzinfo=UTC)
    run = SyncRun(run_id="r", interval_start=start, overlap=timedelta(minutes=10))
    paused_mark = start - timedelta(days=3)
    assert read_from(run, paused_mark) == paused_mark - timedelta(minutes=10)
    assert read_from(run, start + timedelta(hours=1)) == start - timedelta(minutes=10)
    assert read_from(run, None) is None  # first run reads everything
    assert (
        read_from(SyncRun(run_id="r", interval_start=start, full_refresh=True), paused_mark) is None
    )
