"""Concurrent reads of records modified since a time, sorted by Modified_Time ascending.

A counted read (the records to read known from /actions/count) is read page-parallel
(``block_pages``): one query's pages 1..10 (Zoho's 2,000 records reachable with ``page``) are
independent calls, read at once; page 10's last Modified_Time starts the next query, whose
pages are read likewise. Every page but the read's last is full, so it takes
``ceil(count / 200)`` pages and a few records more: those sharing the Modified_Time where a
query restarts are read twice (If-Modified-Since is inclusive) and yielded once, by id. More
records sharing one Modified_Time than a query reaches are read by the sorted reader.

An uncounted read is cut into windows of Modified_Time (``time_windows``) read concurrently,
each sorted ascending from its start and stopped at its end (exclusive), so together the
windows read every record in the range exactly once. Window starts are whole seconds, as
If-Modified-Since is; the last window has no end, so records modified while the read runs are
still read.
"""

from __future__ import annotations

import heapq
import math
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from crm_books.zoho.endpoints import ID_FIELD, SORT_FIELD
from crm_books.zoho.paging import Boundary, Cursor, Page, ReadStats, parse_zoho_time

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
# Reads one page (by number or token) of the sorted query of records modified at or after a
# time: its records, whether more follow, and the next page's token (one call).
PageReader = Callable[[datetime, Cursor, ReadStats], tuple[Page, bool, str | None]]
# A query's last few pages past its `page` reach are read by page token, one after the other,
# rather than by a new query reading again the records at its start time.
TOKEN_TAIL_PAGES = 2


@dataclass(frozen=True)
class CountedRead:
    """How a counted read is read page-parallel (``block_pages``).

    :param read_page: reads one page of a query by its number.
    :param expected: the records to read (/actions/count), asked for once the first page is in;
        None: not known, and the read is cut into time windows instead.
    :param pages_per_query: pages one query reaches with ``page`` (Zoho: 2,000 / 200).
    :param query_pages: pages one query can page through at all (Zoho: 100,000 / 200).
    """

    read_page: PageReader
    expected: Callable[[], int | None]
    pages_per_query: int
    query_pages: int


def windowed_pages(
    read: WindowReader,
    since: datetime | None,
    now: datetime,
    *,
    count: int,
    per_page: int,
    stats: list[ReadStats],
    counted: CountedRead | None = None,
) -> Iterator[Page]:
    """The pages of records modified since ``since``, read by up to ``count`` calls at once.

    The first page is read alone: when it is not full (or there is none) that was the whole
    read, one call as before. Otherwise, when ``counted`` gives the records to read, the rest
    is read page-parallel (``block_pages``); else the rest, from the first page's last
    Modified_Time, is cut into windows read concurrently; the first skips the ids already read
    at that time. A full read (``since`` None) stays one sorted read. ``stats`` gets one entry
    per read.
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
    expected = counted.expected() if counted is not None else None
    if counted is not None and expected is not None:
        plan = BlockPlan(since, expected, per_page, counted.pages_per_query, counted.query_pages)
        yield from block_pages(plan, first, counted.read_page, read, count=count, stats=stats[0])
        return
    windows = time_windows(seed.time, now, count)
    window_stats = [ReadStats() for _ in windows]
    stats.extend(window_stats)
    reads = [
        read(window, s, seed if n == 0 else None)
        for n, (window, s) in enumerate(zip(windows, window_stats, strict=True))
    ]
    yield from reads[0] if len(reads) == 1 else merged(reads, depth=2 * len(reads))


@dataclass(eq=False)
class _Query:
    """One query of a block read: records modified at or after ``since``, sorted ascending;
    pages 1..``last`` planned; ``ended``: the page it was seen to end at."""

    number: int
    since: datetime
    last: int
    ended: int | None = None
    next_since: datetime | None = None  # where the next query starts (its last page's time)
    tokens: dict[int, str] = field(default_factory=dict)  # pages past the `page` reach
    # Each page read so far: its last Modified_Time and its records at that time.
    tails: list[tuple[datetime, int]] = field(default_factory=list)

    @property
    def at_next(self) -> int:
        """Its records read so far at the next query's start, which that query reads again
        (sorted ascending, they end the pages holding them)."""
        return sum(n for t, n in self.tails if t == self.next_since)


@dataclass
class BlockPlan:
    """Which pages of which queries a counted read asks for next (no I/O: ``block_pages`` reads).

    Each query plans the pages its share of the records still to read fills, at most
    ``pages_per_query``; a query that reaches its last page (page ``pages_per_query``, full,
    more records following) starts the next query at that page's last Modified_Time. That page
    is asked for first, so the next query's pages start while this one's are read. A short
    page (or one with no more records after it) ends its query; a last planned page that is
    full with more after it (more records than counted) plans one page more.

    :param since: the read's start; its query's page 1 is the read's first page, read already.
    :param expected: records modified at or after ``since`` (/actions/count).
    :param per_page: records per page.
    :param pages_per_query: pages one query reaches with ``page``.
    :param query_pages: pages one query can page through at all (by token past the reach).
    """

    since: datetime
    expected: int
    per_page: int
    pages_per_query: int
    query_pages: int
    queries: list[_Query] = field(default_factory=list)
    # More records than one query reaches share this Modified_Time: the rest, from it, is read
    # by the sorted reader (page tokens, restarts, Bulk Read).
    fallback: datetime | None = None
    _pending: list[tuple[tuple[int, int, int], int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._add(self.since, read=1)

    def _remaining(self) -> int:
        """Records at or after the newest query's start: the count less what the earlier
        queries read before the next one's start (their records at it are read again)."""
        older = self.queries[:-1]
        return self.expected - sum(q.last * self.per_page - q.at_next for q in older)

    def _pages(self) -> int:
        """Pages the newest query needs for the records still to read, at most a query's."""
        pages = max(1, math.ceil(self._remaining() / self.per_page))
        return min(pages, self.pages_per_query)

    def _add(self, since: datetime, read: int = 0) -> None:
        """A query from ``since`` planning the pages the records still to read fill; its pages
        after ``read`` are asked for, its last one first when it starts the next query."""
        query = _Query(len(self.queries), since, 0)
        self.queries.append(query)
        query.last = max(read, self._pages())
        for number in range(read + 1, query.last + 1):
            self._push(query, number)

    def _replan(self) -> None:
        """More pages for the newest query when the earlier ones turned out to hold more
        records at a restart time than their last page showed."""
        query = self.queries[-1]
        if query.ended is not None:
            return
        for number in range(query.last + 1, self._pages() + 1):
            query.last = number
            self._push(query, number)

    def _push(self, query: _Query, number: int) -> None:
        chains = 0 if number >= self.pages_per_query else 1
        heapq.heappush(self._pending, ((chains, query.number, number), query.number))

    def next_page(self) -> tuple[_Query, int] | None:
        """The next page to ask for (query, page number), or None when none is planned."""
        while self._pending and self.fallback is None:
            (_, _, number), index = heapq.heappop(self._pending)
            query = self.queries[index]
            if query.ended is None or number <= query.ended:
                return query, number
        return None

    def cursor(self, query: _Query, number: int) -> Cursor:
        """How page ``number`` of ``query`` is asked for: by number, or past the reach by token."""
        token = query.tokens.get(number)
        return Cursor(number, token) if token else Cursor(number)

    def page_read(
        self, query: _Query, number: int, records: Page, more: bool, token: str | None = None
    ) -> None:
        """Plan from page ``number`` of ``query``: its records, whether more follow, and the
        next page's token."""
        times = _times(records)
        if times:
            query.tails.append((times[-1], sum(1 for t in times if t == times[-1])))
        if query.next_since is not None:  # the next query reads its records at that time too
            self._replan()
        if len(records) < self.per_page or not more:
            query.ended = number if query.ended is None else min(query.ended, number)
            return
        if number != query.last:
            return
        past_reach = self._remaining() - number * self.per_page
        by_token = number < self.query_pages and past_reach <= TOKEN_TAIL_PAGES * self.per_page
        if number < self.pages_per_query or (token and by_token):
            # one page more: more records than counted, or the few past the reach by token
            query.last += 1
            if number >= self.pages_per_query and token:
                query.tokens[query.last] = token
            self._push(query, query.last)
            return
        restart = times[-1] if times else None
        if restart is None or restart <= query.since:
            self.fallback = query.since  # no progress: every record of the query at one time
            return
        query.next_since = restart
        self._add(restart)


def _times(records: Page) -> list[datetime]:
    """The records' Modified_Time (records without one left out)."""
    return [parse_zoho_time(str(r[SORT_FIELD])) for r in records if r.get(SORT_FIELD)]


def block_pages(
    plan: BlockPlan,
    first: Page,
    read_page: PageReader,
    fallback: WindowReader,
    *,
    count: int,
    stats: ReadStats,
) -> Iterator[Page]:
    """The pages ``plan`` asks for after the read's ``first`` page, up to ``count`` calls at
    once, each record once (by id), in the order they arrive; then, when more records share one
    Modified_Time than a query reaches, the rest read by ``fallback`` from it."""
    seen = {str(r.get(ID_FIELD)) for r in first}

    def fresh(records: Page) -> Page:
        new = [r for r in records if str(r.get(ID_FIELD)) not in seen]
        seen.update(str(r.get(ID_FIELD)) for r in new)
        return new

    plan.page_read(plan.queries[0], 1, first, True)
    pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="crm-page")
    running: dict[Future[tuple[Page, bool, str | None]], tuple[_Query, int]] = {}

    def fill() -> None:
        while len(running) < count and (task := plan.next_page()) is not None:
            query, number = task
            stats.queries += number == 1
            cursor = plan.cursor(query, number)
            running[pool.submit(read_page, query.since, cursor, stats)] = task

    try:
        fill()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            ready = []
            for future in done:
                query, number = running.pop(future)
                records, more, token = future.result()
                plan.page_read(query, number, records, more, token)
                ready.append(fresh(records))
            fill()  # the next calls are in flight before the consumer takes these pages
            for page in ready:
                if page:
                    stats.records += len(page)
                    yield page
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if plan.fallback is not None:
        for page in fallback(Window(plan.fallback), stats, None):
            if page := fresh(page):
                yield page


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
