"""Extract progress lines tell an operator how far a long read is and when it will end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from crm_books.customers.extract import progress_line
from crm_books.incremental import read_from


def test_progress_with_a_known_total_gives_share_rate_and_eta() -> None:
    line = progress_line(12_000, 48_000, 4.0)
    assert line == "12,000 of 48,000 records (25%), 3,000 records/s, ETA 12 s"


def test_progress_without_a_total_gives_count_and_rate_only() -> None:
    assert progress_line(5_000, None, 2.0) == "5,000 records so far, 2,500 records/s"


def test_incremental_bound_is_the_earlier_of_interval_and_mark_minus_overlap() -> None:
    start = datetime(2026, 11, 2, 12, tzinfo=UTC)
    overlap = timedelta(minutes=10)
    paused_mark = start - timedelta(days=3)
    assert read_from(start, paused_mark, overlap) == paused_mark - overlap
    assert read_from(start, start + timedelta(hours=1), overlap) == start - overlap
    assert read_from(start, None, overlap) is None  # first run reads everything
    assert read_from(None, paused_mark) == paused_mark - timedelta(minutes=10)  # the default


def test_read_ahead_keeps_order_and_fetches_while_the_caller_works() -> None:
    import time

    from crm_books.customers.extract import read_ahead

    fetched: list[int] = []

    def pages() -> Iterator[int]:
        for n in range(10):
            fetched.append(n)
            yield n

    reader = read_ahead(pages(), depth=3)
    assert next(reader) == 0
    deadline = time.monotonic() + 5
    while len(fetched) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    # While the caller holds page 0, pages 1-3 wait in the queue and page 4 is being handed over.
    assert fetched == [0, 1, 2, 3, 4]
    assert [0, *reader] == list(range(10))


def test_read_ahead_raises_the_readers_error_after_the_pages_before_it() -> None:
    from crm_books.customers.extract import read_ahead

    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("Zoho CRM HTTP 500")

    got: list[int] = []
    with pytest.raises(RuntimeError, match="HTTP 500"):
        for page in read_ahead(pages()):
            got.append(page)
    assert got == [1, 2]


def test_read_ahead_stops_its_thread_when_the_caller_stops() -> None:
    import threading
    import time

    from crm_books.customers.extract import read_ahead

    def endless() -> Iterator[int]:
        n = 0
        while True:
            n += 1
            yield n

    for page in read_ahead(endless(), depth=2):
        if page == 3:
            break
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        t.name == "crm-read-ahead" for t in threading.enumerate()
    ):
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name == "crm-read-ahead"]
