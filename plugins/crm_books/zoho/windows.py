"""Concurrent reads: a Modified_Time range cut into windows, and their pages merged from threads.

Each window is read sorted by Modified_Time ascending from its start (If-Modified-Since is
inclusive) and stopped at its end (exclusive), so together the windows read every record in
the range exactly once. Window starts are whole seconds, as If-Modified-Since is; the last
window has no end, so records modified while the read runs are still read.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from crm_books.zoho.paging import Boundary, Page, ReadStats

T = TypeVar("T")

# Narrower windows are not worth a thread: one page of 200 is read in one call anyway.
MIN_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class Window:
    """Records modified at or after ``start`` and, when ``end`` is set, before ``end``."""

    start: datetime | None  # None: from the first record
    end: datetime | None = None


# Reads one window: its pages, counted in the stats, skipping what the boundary already holds.
WindowReader = Callable[[Window, ReadStats, Boundary | None], Generator[Page, None, None]]


def windowed_pages(
    read: WindowReader,
    since: datetime | None,
    now: datetime,
    *,
    count: int,
    per_page: int,
    stats: list[ReadStats],
) -> Iterator[Page]:
    """The pages of records modified since ``since``, read by up to ``count`` windows at once.

    The first page is read alone: when it is not full (or there is none) that was the whole
    read, one call as before. Otherwise the rest, from the first page's last Modified_Time, is
    cut into windows read concurrently; the first skips the ids already read at that time.
    A full read (``since`` None) stays one sorted read. ``stats`` gets one entry per read.
    """
    stats.append(ReadStats())
    head = read(Window(since), stats[0], None)
    first = next(head, None)
    if first is None:
        return
    yield first
    seed = Boundary()
    seed.admit(first)
    if since is None or count <= 1 or len(first) < per_page or seed.time is None:
        yield from head
        return
    head.close()
    windows = time_windows(seed.time, now, count)
    window_stats = [ReadStats() for _ in windows]
    stats.extend(window_stats)
    reads = [
        read(window, s, seed if n == 0 else None)
        for n, (window, s) in enumerate(zip(windows, window_stats, strict=True))
    ]
    yield from reads[0] if len(reads) == 1 else merged(reads, depth=2 * len(reads))


def time_windows(
    since: datetime, now: datetime, count: int, min_width: timedelta = MIN_WINDOW
) -> list[Window]:
    """``[since, now)`` cut into at most ``count`` windows of equal width, the last one open."""
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    span = now - since
    count = max(1, min(count, int(span / min_width)))
    width = span / count
    starts = [since] + [_whole_second(since + width * i) for i in range(1, count)]
    starts = sorted(set(starts))
    ends: list[datetime | None] = [*starts[1:], None]
    return [Window(s, e) for s, e in zip(starts, ends, strict=True)]


def _whole_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def merged(iterators: Sequence[Iterator[T]], depth: int) -> Iterator[T]:
    """What each iterator yields, each read by its own thread, in the order items are ready.

    Up to ``depth`` items wait for the consumer. The first exception of any thread is raised
    here; a consumer that stops early (or fails) stops every thread.
    """
    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def put(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce(items: Iterator[T]) -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("done", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put(("error", exc))

    threads = [
        threading.Thread(target=produce, args=(it,), name=f"crm-read-{n}", daemon=True)
        for n, it in enumerate(iterators)
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            kind, value = ready.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                running -= 1
    finally:
        stop.set()
