"""The pure parts of concurrent reads and the call limiter: Modified_Time windows, flock slots
across processes, the polling backoff, the slot keys, and which limiter the hook picks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_books.zoho.limiter import (
    MAX_POLL_SECONDS,
    POLL_SECONDS,
    AdvisoryLockLimiter,
    FileLockLimiter,
    backoff,
    limiter_key,
    lock_key,
)
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


def test_waits_for_a_slot_start_short_and_stay_short() -> None:
    waits = [backoff(attempt) for attempt in range(12)]
    assert POLL_SECONDS <= waits[0] < 2 * POLL_SECONDS
    assert all(w < 2 * MAX_POLL_SECONDS for w in waits)  # a freed slot is seen within ~40 ms


def test_slots_are_keyed_by_the_org_and_app() -> None:
    key = limiter_key("https://www.zohoapis.com", "1000.A")
    assert key == limiter_key("https://www.zohoapis.com/", "1000.A")
    assert key != limiter_key("https://www.zohoapis.eu", "1000.A")
    assert key != limiter_key("https://www.zohoapis.com", "1000.B")
    assert lock_key(key) == lock_key(key) and -(2**31) <= lock_key(key) < 2**31


def test_the_hook_shares_slots_through_a_postgresql_warehouse_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from crm_books.zoho.auth import CrmCredentials
    from crm_books.zoho.hook import warehouse_limiter

    creds = CrmCredentials("https://www.zohoapis.com", "https://accounts.zoho.com", "id", "s", "r")
    monkeypatch.setenv("AIRFLOW_CONN_BOOKS_WAREHOUSE", "postgresql://u:p@127.0.0.1:1/books")
    shared = warehouse_limiter(creds, 5)  # no connection yet: opened by the first call
    assert isinstance(shared, AdvisoryLockLimiter) and shared.max_concurrency == 5
    assert warehouse_limiter(creds, 5) is shared  # one per process: one set of connections

    monkeypatch.setenv("AIRFLOW_CONN_BOOKS_WAREHOUSE", f"sqlite:///{tmp_path / 'books.db'}")
    assert warehouse_limiter(creds, 5) is None  # the client then takes this host's flocks
