"""The pure parts of concurrent reads: Modified_Time windows, and the per-host (flock) call limiter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from crm_books.zoho.limiter import FileLockLimiter
from crm_books.zoho.windows import time_windows

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@given(st.integers(0, 10**7), st.integers(1, 25))
def test_windows_tile_the_range_from_since_with_whole_second_edges(span: int, count: int) -> None:
    now = T0 + timedelta(seconds=span, microseconds=123)
    windows = time_windows(T0, now, count)

    assert 1 <= len(windows) <= count
    assert windows[0].start == T0 and windows[-1].end is None  # open-ended: nothing is missed
    for left, right in pairwise(windows):
        assert left.end == right.start and right.start is not None
        assert left.start is not None and left.start < right.start
        assert right.start.microsecond == 0  # as If-Modified-Since sends it


def test_short_ranges_are_not_cut_finer_than_a_minute() -> None:
    assert len(time_windows(T0, T0 + timedelta(seconds=90), 8)) == 1
    assert len(time_windows(T0, T0 + timedelta(hours=1), 8)) == 8


def test_the_limiter_is_shared_with_other_processes(tmp_path: Path) -> None:
    # Another task process holds the only slot for a second; this one waits for it.
    holder = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from crm_books.zoho.limiter import FileLockLimiter
        with FileLockLimiter(1, Path({str(tmp_path)!r})).slot():
            print("holding", flush=True)
            time.sleep(1.0)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with FileLockLimiter(1, tmp_path).slot():
            waited = time.monotonic() - started
    finally:
        child.wait(timeout=30)
    assert waited >= 0.5
