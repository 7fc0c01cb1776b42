"""Zoho's paging: `page` up to 2,000 records, then `page_token`, restarts after 100,000."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crm_books.zoho.endpoints import (
    DISCRETE_PAGINATION_LIMIT_EXCEEDED,
    ID_FIELD,
    PAGINATION_LIMIT_EXCEEDED,
    SORT_FIELD,
)
from crm_books.zoho.errors import CrmApiError

log = logging.getLogger(__name__)

Record = dict[str, Any]
Page = list[Record]
# GET path with query params and an If-Modified-Since time: the body, or None for 204/304.
Get = Callable[[str, dict[str, Any], datetime | None], dict[str, Any] | None]
CEILING_CODES = {PAGINATION_LIMIT_EXCEEDED, DISCRETE_PAGINATION_LIMIT_EXCEEDED}


class SharedTimeCeiling(CrmApiError):
    """More records share one Modified_Time than a REST query can page through (100,000):
    restarting from that time cannot make progress. The client reads the rest of the window
    through Bulk Read instead; `boundary` holds that time and the ids already read at it."""

    def __init__(self, module: str, boundary: Boundary) -> None:
        super().__init__(
            400,
            PAGINATION_LIMIT_EXCEEDED,
            f"more {module} records share Modified_Time {boundary.time} than one query "
            "can page through, so restarting from it cannot make progress",
            fix="let the client read it through Bulk Read (bulk_read_threshold not null), or "
            "touch some of those records in the CRM so their Modified_Time differs",
        )
        self.boundary = boundary


def parse_zoho_time(value: str) -> datetime:
    """Parse a Zoho ISO-8601 time keeping its offset (`2024-03-01T10:00:00+05:30`)."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_zoho_time(value: datetime) -> str:
    """`If-Modified-Since` as Zoho accepts it: ISO-8601 with offset, whole seconds (floored)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # naive means UTC
    return aware.replace(microsecond=0).isoformat()


def split_fields(fields: Sequence[str], max_per_call: int) -> list[tuple[str, ...]]:
    """Chunks of at most `max_per_call` fields, each carrying id and Modified_Time for merging."""
    keys = (ID_FIELD, SORT_FIELD)
    rest = [f for f in dict.fromkeys(fields) if f not in keys]
    room = max_per_call - len(keys)
    if room < 1:
        raise ValueError(f"max_fields_per_call must be at least {len(keys) + 1}")
    if not rest:
        return [keys]
    return [keys + tuple(rest[i : i + room]) for i in range(0, len(rest), room)]


def before(records: Page, until: datetime | None) -> Page:
    """The records modified before ``until`` (all of them without one), in order, up to the first
    record at or after it."""
    if until is None:
        return records
    for position, record in enumerate(records):
        raw = record.get(SORT_FIELD)
        if raw and parse_zoho_time(raw) >= until:
            return records[:position]
    return records


class Boundary:
    """The latest Modified_Time yielded and the ids yielded at exactly that time.

    Holding only the ids at the boundary keeps memory flat while a query restarted from that
    time (Zoho's If-Modified-Since is inclusive) skips what was already yielded.
    """

    def __init__(self) -> None:
        self.time: datetime | None = None
        self.ids: set[str] = set()

    def admit(self, records: Iterable[Record]) -> Page:
        fresh: Page = []
        for record in records:
            raw = record.get(SORT_FIELD)
            record_id = str(record.get(ID_FIELD))
            if not raw:
                fresh.append(record)
                continue
            modified = parse_zoho_time(raw)
            if self.time is None or modified > self.time:
                self.time, self.ids = modified, {record_id}
            elif modified == self.time:
                if record_id in self.ids:
                    continue
                self.ids.add(record_id)
            fresh.append(record)
        return fresh


@dataclass
class ReadStats:
    """Counters for the summary line of one read."""

    records: int = 0
    pages: int = 0
    queries: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Cursor:
    """Where the next page of a query is: a page number, or a page token past the page limit."""

    page: int = 1
    token: str | None = None

    def params(self, base: dict[str, Any]) -> dict[str, Any]:
        return {**base, "page_token": self.token} if self.token else {**base, "page": self.page}


@dataclass
class Pager:
    """Zoho's paging rules for one client's reads.

    :param get: makes one GET call (with retries).
    :param per_page: records per page.
    :param discrete_page_limit: records reachable with `page`; beyond it `page_token` is used.
    :param query_record_limit: records one query can page through before it must restart.
    """

    get: Get
    per_page: int
    discrete_page_limit: int
    query_record_limit: int

    def sorted_pages(
        self,
        module: str,
        path: str,
        params: dict[str, Any],
        since: datetime | None,
        stats: ReadStats,
        until: datetime | None = None,
        boundary: Boundary | None = None,
    ) -> Iterator[Page]:
        """Pages of a query sorted by Modified_Time, restarted from the last Modified_Time
        whenever its ceiling is reached; each record once. With ``until``, only records
        modified before it: the read stops at the first record at or after it. ``boundary``
        holds what an earlier read yielded at ``since``, so it is not yielded again."""
        boundary = boundary or Boundary()
        query_since = since
        while True:
            stats.queries += 1
            fresh_in_query = 0
            ceiling = False
            for records, at_ceiling in self.query(path, params, query_since, stats):
                ceiling = at_ceiling  # the last page's says whether the query must restart
                fresh = boundary.admit(records)
                fresh_in_query += len(fresh)
                kept = before(fresh, until)
                if kept:
                    yield kept
                if len(kept) < len(fresh):
                    return  # sorted ascending: every later record is past the window's end
            if not ceiling:
                return
            query_since = self._restart_time(module, boundary, fresh_in_query, stats.queries)

    def page(
        self,
        path: str,
        params: dict[str, Any],
        since: datetime | None,
        cursor: Cursor,
        stats: ReadStats,
    ) -> tuple[Page, bool, str | None]:
        """One page of a query: its records, whether Zoho says more follow, and the token of
        the page after it (None: none given)."""
        fetched = self._fetch(path, params, since, cursor, stats)
        if fetched is None:
            return [], False, None
        records, info = fetched
        token = info.get("next_page_token")
        return records, bool(info.get("more_records")), str(token) if token else None

    def _fetch(
        self,
        path: str,
        params: dict[str, Any],
        since: datetime | None,
        cursor: Cursor,
        stats: ReadStats,
    ) -> tuple[Page, dict[str, Any]] | None:
        """One call for the page at ``cursor``: its records and its ``info`` block, or None
        when the answer has no body (204 no records, 304 nothing modified)."""
        body = self.get(path, cursor.params(params), since)
        if body is None:
            return None
        stats.pages += 1
        return body.get("data") or [], dict(body.get("info") or {})

    def query(
        self,
        path: str,
        params: dict[str, Any],
        since: datetime | None,
        stats: ReadStats,
        *,
        page_only: bool = False,
    ) -> Iterator[tuple[Page, bool]]:
        """(records, ceiling) per page of one query: `page` up to the discrete limit, then
        `page_token`. `ceiling` is True on the last page when the query stopped at its
        ceiling and must be restarted. `page_only` is for endpoints without page tokens."""
        cursor: Cursor | None = Cursor()
        seen = 0
        while cursor is not None:
            try:
                fetched = self._fetch(path, params, since, cursor, stats)
            except CrmApiError as exc:
                if exc.code in CEILING_CODES:
                    yield [], True
                    return
                raise
            if fetched is None:
                return
            records, info = fetched
            seen += len(records)
            log.debug(
                "%s page %d: %d records (%d in this query)", path, stats.pages, len(records), seen
            )
            cursor, ceiling = self._next(cursor, info, seen, page_only)
            yield records, ceiling

    def _next(
        self, cursor: Cursor, info: dict[str, Any], seen: int, page_only: bool
    ) -> tuple[Cursor | None, bool]:
        """The next page's cursor (None at the end) and whether the query hit its ceiling."""
        if not info.get("more_records"):
            return None, False
        next_token = info.get("next_page_token")
        beyond_discrete = (
            not page_only and (cursor.page + 1) * self.per_page > self.discrete_page_limit
        )
        on_tokens = bool(cursor.token) or beyond_discrete
        if seen >= self.query_record_limit or (on_tokens and not next_token):
            return None, True
        if on_tokens:
            return Cursor(cursor.page, next_token), False
        return Cursor(cursor.page + 1), False

    def _restart_time(
        self, module: str, boundary: Boundary, fresh_in_query: int, queries: int
    ) -> datetime:
        """Where the next query starts, or a CrmApiError when restarting cannot make progress."""
        if boundary.time is None:
            raise CrmApiError(
                400,
                PAGINATION_LIMIT_EXCEEDED,
                f"{module}: the query hit its paging limit before any record was read",
                fix=f"use a per_page ({self.per_page}) within the discrete page limit",
            )
        if fresh_in_query == 0 and queries > 1:
            raise SharedTimeCeiling(module, boundary)
        log.debug(
            "%s: query ceiling reached, restarting from Modified_Time %s (%d ids held)",
            module,
            boundary.time.isoformat(),
            len(boundary.ids),
        )
        return boundary.time
