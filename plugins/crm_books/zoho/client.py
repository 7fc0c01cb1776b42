"""Zoho CRM v8 reads: the org, record counts, field checks, records and deletions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import requests

from crm_books.config import DISCRETE_PAGE_LIMIT, MAX_FIELDS_PER_CALL, PER_PAGE, QUERY_RECORD_LIMIT
from crm_books.zoho.auth import (
    CrmCredentials,
    DenialPolicy,
    TokenSource,
    TokenStore,
    ZohoAuthenticator,
)
from crm_books.zoho.bulk import (
    DEFAULT_BULK_READ_THRESHOLD,
    BulkPolicy,
    BulkReader,
    CsvPlan,
    already_read,
)
from crm_books.zoho.endpoints import (
    COUNT_PATH,
    DELETED_PATH,
    FIELDS_PATH,
    ID_FIELD,
    IDS_PER_CALL,
    ORG_PATH,
    PAGINATION_LIMIT_EXCEEDED,
    RECORDS_PATH,
    SORT_FIELD,
)
from crm_books.zoho.errors import CrmApiError
from crm_books.zoho.limiter import DEFAULT_MAX_CONCURRENCY, CallLimiter, host_limiter
from crm_books.zoho.paging import (
    Boundary,
    Cursor,
    Page,
    Pager,
    ReadStats,
    SharedTimeCeiling,
    format_zoho_time,
    split_fields,
)
from crm_books.zoho.retry import Retrier, RetryPolicy
from crm_books.zoho.transport import Transport
from crm_books.zoho.usage import Usage
from crm_books.zoho.windows import CountedRead, Window, windowed_pages

log = logging.getLogger(__name__)
DEFAULT_BULK_POLICY = BulkPolicy()


class ZohoCrmClient:
    """Reads Zoho CRM v8 (or the sandbox): the org, field metadata, records and deletions.

    :param credentials: API base URL, accounts URL and the OAuth refresh-token client.
    :param retry: bounds for retrying rate limits, server errors and network failures.
    :param timeout: seconds per HTTP request.
    :param session: a `requests.Session` to reuse (one is created otherwise).
    :param sleep: called with the seconds to wait between retries (inject a fake in tests).
    :param on_token: called with each new access token, e.g. Airflow's `mask_secret`.
    :param authenticator: the access tokens to use, e.g. one shared by several clients; by
        default the client refreshes its own (through its session, retries and `on_token`).
    :param token_store: where the access token is shared with other clients, tasks and workers
        (e.g. the warehouse's, zoho/token_store.py); by default this client's own, in memory.
    :param denial: how long to wait out the accounts server's "Access Denied".
    :param max_concurrency: API calls in flight at most, shared with every client of the same
        org and app on this host (zoho/limiter.py); incremental reads are cut into this many
        windows read concurrently. None: no cap, one window.
    :param limiter: the slots of that cap, e.g. shared across hosts (zoho/limiter.py); by
        default this host's.
    :param per_page: records per page (Zoho allows at most 200).
    :param discrete_page_limit: records reachable with `page`; beyond it `page_token` is used.
    :param query_record_limit: records one query can page through before it must restart.
    :param max_fields_per_call: fields per call; more are fetched in chunks merged by id.
    :param bulk_read_threshold: records above which a read should go through Bulk Read
        (customers/extract.py counts and decides; 0: every non-empty read); None: Bulk Read is
        never used, not even when more records share one Modified_Time than REST can page
        through (that read then fails, as before).
    :param bulk_policy: how Bulk Read jobs are polled and retried.
    """

    def __init__(
        self,
        credentials: CrmCredentials,
        *,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 60.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_token: Callable[[str], object] | None = None,
        authenticator: TokenSource | None = None,
        token_store: TokenStore | None = None,
        denial: DenialPolicy = DenialPolicy(),
        max_concurrency: int | None = DEFAULT_MAX_CONCURRENCY,
        limiter: CallLimiter | None = None,
        per_page: int = PER_PAGE,
        discrete_page_limit: int = DISCRETE_PAGE_LIMIT,
        query_record_limit: int = QUERY_RECORD_LIMIT,
        max_fields_per_call: int = MAX_FIELDS_PER_CALL,
        bulk_read_threshold: int | None = DEFAULT_BULK_READ_THRESHOLD,
        bulk_policy: BulkPolicy = DEFAULT_BULK_POLICY,
    ) -> None:
        if not 1 <= per_page <= PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {PER_PAGE}")
        self.credentials = credentials
        self.max_concurrency = max_concurrency
        limiter = limiter or (
            host_limiter(credentials.api_base_url, credentials.client_id, max_concurrency)
            if max_concurrency
            else None
        )
        self.transport = Transport(
            session or _session(max_concurrency), Retrier(retry, sleep=sleep), timeout, limiter
        )
        self.authenticator = authenticator or ZohoAuthenticator(
            credentials,
            self.transport,
            store=token_store,
            on_token=on_token,
            denial=denial,
            sleep=sleep,
        )
        self.pager = Pager(
            self._get,
            per_page=per_page,
            discrete_page_limit=discrete_page_limit,
            query_record_limit=query_record_limit,
        )
        self.max_fields_per_call = max_fields_per_call
        self._api_base = credentials.api_base_url.rstrip("/")
        self.bulk_read_threshold = bulk_read_threshold
        self.bulk = BulkReader(
            self._api,
            on_job=self.transport.meter.record_bulk_job,
            sleep=sleep,
            policy=bulk_policy,
        )

    def organization(self) -> dict[str, Any]:
        """The CRM organisation this client reads (`id`, `company_name`, ...)."""
        body = self._get(ORG_PATH, {})
        orgs = (body or {}).get("org") or []
        if not orgs:
            raise CrmApiError(200, "NO_ORG", "the /org call returned no organisation")
        return dict(orgs[0])

    def count(self, module: str, *, modified_since: datetime | None = None) -> int:
        """How many records `module` holds now (Zoho's /actions/count), or how many of them
        were modified at or after `modified_since`: progress ETAs, Bulk Read or REST."""
        params = {}
        if modified_since is not None:
            since = format_zoho_time(modified_since)
            params["criteria"] = f"({SORT_FIELD}:greater_equal:{since})"
        body = self._get(COUNT_PATH.format(module=module), params)
        return int((body or {}).get("count") or 0)

    def field_metadata(self, module: str) -> list[dict[str, Any]]:
        """`module`'s fields as Zoho describes them (api_name, json_type, lookup, ...)."""
        body = self._get(FIELDS_PATH, {"module": module})
        return list((body or {}).get("fields") or [])

    def check_fields(self, module: str, fields: Sequence[str]) -> None:
        """Raise a CrmApiError naming every field in `fields` that `module` does not have."""
        known = {str(f.get("api_name")) for f in self.field_metadata(module)}
        missing = [f for f in dict.fromkeys(fields) if f != ID_FIELD and f not in known]
        if missing:
            raise CrmApiError(
                None,
                "INVALID_DATA",
                f"{module} has no field named {', '.join(missing)}",
                fix=(
                    "correct the field API names (case-sensitive) in the fields asked for; "
                    f"{module}'s fields are listed by GET {FIELDS_PATH}?module={module}"
                ),
            )

    def usage(self) -> Usage:
        """The API calls, credits and Bulk Read jobs this client has used so far."""
        return self.transport.meter.snapshot()

    def iter_pages(
        self,
        module: str,
        fields: Sequence[str],
        *,
        modified_since: datetime | None = None,
        split_until: datetime | None = None,
        expected: Callable[[], int | None] | None = None,
    ) -> Generator[Page, None, None]:
        """Yield `module`'s records page by page, each record once.

        An incremental read (`modified_since` set) whose first page is full is read up to
        `max_concurrency` calls at once (zoho/windows.py): page-parallel when `expected` gives
        the records to read, else cut into windows of Modified_Time; pages then come in the
        order they arrive, each sorted by Modified_Time. A full read, and a read of one page or
        none (a quiet interval costs one call), are sorted throughout.

        :param module: module API name (Accounts, Contacts, Deals).
        :param fields: field API names to read; more than the per-call limit are merged by id.
        :param modified_since: only records modified at or after this time (naive means UTC).
        :param split_until: where the windows' even split ends (default now, the last window
            is open-ended either way), e.g. the run's interval end.
        :param expected: the records modified since `modified_since` (/actions/count), called
            once the first page is in (it may wait for a count asked for meanwhile).
        """
        stats: list[ReadStats] = []
        counted = (
            CountedRead(
                partial(self._query_page, module, fields),
                expected,
                max(1, self.pager.discrete_page_limit // self.pager.per_page),
                max(1, self.pager.query_record_limit // self.pager.per_page),
            )
            if expected is not None
            else None
        )
        yield from windowed_pages(
            partial(self._window_pages, module, fields),
            modified_since,
            split_until or datetime.now(UTC),
            count=self.max_concurrency or 1,
            per_page=self.pager.per_page,
            stats=stats,
            counted=counted,
        )
        log.info(
            "Read %d %s records in %d pages and %d queries (%d windows) in %.1fs",
            sum(s.records for s in stats),
            module,
            sum(s.pages for s in stats),
            sum(s.queries for s in stats),
            len(stats),
            time.monotonic() - stats[0].started,
        )

    def iter_bulk_pages(
        self,
        module: str,
        fields: Sequence[str],
        *,
        modified_since: datetime | None = None,
        modified_before: datetime | None = None,
        skip: Boundary | None = None,
    ) -> Iterator[Page]:
        """Yield `module`'s records through Bulk Read (zoho/bulk.py), shaped as iter_pages
        shapes them, in pages not sorted by Modified_Time (the sandbox gives id order).

        :param modified_since: only records modified at or after this time.
        :param modified_before: only records modified before this time.
        :param skip: the ids a REST read already gave at its boundary time.
        """
        started, records = time.monotonic(), 0
        plan = CsvPlan.of(fields, self.field_metadata(module))
        seen = already_read(skip.time, skip.ids) if skip is not None else None
        for page in self.bulk.pages(
            module, plan, since=modified_since, until=modified_before, skip=seen
        ):
            records += len(page)
            yield page
        log.info(
            "Read %d %s records through Bulk Read in %.1fs",
            records,
            module,
            time.monotonic() - started,
        )

    def _window_pages(
        self,
        module: str,
        fields: Sequence[str],
        window: Window,
        stats: ReadStats,
        boundary: Boundary | None = None,
    ) -> Generator[Page, None, None]:
        """One window's pages, sorted by Modified_Time; `boundary`: what was read already.
        When more records share one Modified_Time than REST can page through, the rest of
        the window is read through Bulk Read (unless it is switched off)."""
        try:
            yield from self._rest_window_pages(module, fields, window, stats, boundary)
        except SharedTimeCeiling as ceiling:
            if self.bulk_read_threshold is None:
                raise
            log.warning(
                "%s: more records share Modified_Time %s than REST can page through; reading "
                "the rest of the window through Bulk Read",
                module,
                ceiling.boundary.time,
            )
            for page in self.iter_bulk_pages(
                module,
                fields,
                modified_since=ceiling.boundary.time,
                modified_before=window.end,
                skip=ceiling.boundary,
            ):
                stats.records += len(page)
                yield page

    def _rest_window_pages(
        self,
        module: str,
        fields: Sequence[str],
        window: Window,
        stats: ReadStats,
        boundary: Boundary | None = None,
    ) -> Generator[Page, None, None]:
        path, params, chunks = self._sorted_query(module, fields)
        pages = self.pager.sorted_pages(
            module, path, params, window.start, stats, window.end, boundary
        )
        for page in pages:
            if len(chunks) > 1:
                self._merge_chunks(path, page, chunks[1:])
            stats.records += len(page)
            yield page

    def _query_page(
        self, module: str, fields: Sequence[str], since: datetime, cursor: Cursor, stats: ReadStats
    ) -> tuple[Page, bool, str | None]:
        """One page of the sorted read from ``since`` (one call, plus the other field chunks'):
        its records, whether more follow, and the next page's token."""
        path, params, chunks = self._sorted_query(module, fields)
        records, more, token = self.pager.page(path, params, since, cursor, stats)
        if records and len(chunks) > 1:
            self._merge_chunks(path, records, chunks[1:])
        return records, more, token

    def _sorted_query(
        self, module: str, fields: Sequence[str]
    ) -> tuple[str, dict[str, Any], list[tuple[str, ...]]]:
        """A sorted read's path, parameters (its first field chunk) and field chunks."""
        chunks = split_fields(fields, self.max_fields_per_call)
        params: dict[str, Any] = {
            "fields": ",".join(chunks[0]),
            "per_page": self.pager.per_page,
            "sort_by": SORT_FIELD,
            "sort_order": "asc",
        }
        return RECORDS_PATH.format(module=module), params, chunks

    def iter_deleted(self, module: str, *, deleted_since: datetime | None = None) -> Iterator[Page]:
        """Yield pages of `module`'s deleted records (`id`, `deleted_time`, ...), type=all."""
        path = DELETED_PATH.format(module=module)
        params: dict[str, Any] = {"type": "all", "per_page": self.pager.per_page}
        stats = ReadStats(queries=1)
        for records, ceiling in self.pager.query(
            path, params, deleted_since, stats, page_only=True
        ):
            if ceiling:
                # Deleted records have no Modified_Time order to restart from: stop loudly.
                raise CrmApiError(
                    400,
                    PAGINATION_LIMIT_EXCEEDED,
                    f"{module} has more deleted records than one query can page through",
                    fix="read deletions more often, or pass a later deleted_since",
                )
            stats.records += len(records)
            if records:
                yield records
        log.info("Read %d deleted %s records in %d pages", stats.records, module, stats.pages)

    def _merge_chunks(self, path: str, page: Page, chunks: Sequence[tuple[str, ...]]) -> None:
        """Fill the page's records with the fields of the other chunks, fetched by id."""
        by_id = {str(r[ID_FIELD]): r for r in page}
        ids = list(by_id)
        for chunk in chunks:
            for start in range(0, len(ids), IDS_PER_CALL):
                batch = ids[start : start + IDS_PER_CALL]
                params = {"ids": ",".join(batch), "fields": ",".join(chunk)}
                body = self._get(path, params)
                for extra in (body or {}).get("data") or []:
                    target = by_id.get(str(extra.get(ID_FIELD)))
                    if target is not None:
                        target.update(extra)

    def _get(
        self, path: str, params: dict[str, Any], since: datetime | None = None
    ) -> dict[str, Any] | None:
        headers = {"If-Modified-Since": format_zoho_time(since)} if since else {}
        return self._api("GET", path, params=params, headers=headers)

    def _api(self, method: str, path: str, **options: Any) -> dict[str, Any] | None:
        """One API call with this client's token, limiter, retries and usage meter; `path`
        is relative to the API base URL (or a full URL, e.g. a download URL)."""
        url = path if "://" in path else self._api_base + path
        return self.transport.call(method, url, auth=self.authenticator, **options)


def _session(max_concurrency: int | None) -> requests.Session:
    """A session keeping a connection open per concurrent call (requests keeps 10 by default)."""
    session = requests.Session()
    size = max(10, max_concurrency or 0)
    adapter = requests.adapters.HTTPAdapter(pool_connections=size, pool_maxsize=size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
