"""Zoho CRM v8 REST client: OAuth refresh, bounded retries and streaming reads."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import msgspec
import requests

from crm_books.config import DISCRETE_PAGE_LIMIT, MAX_FIELDS_PER_CALL, PER_PAGE, QUERY_RECORD_LIMIT
from crm_books.zoho.auth import TOKEN_REFRESH_MARGIN_SECONDS, CrmCredentials
from crm_books.zoho.endpoints import (
    AUTH_SCHEME,
    COUNT_PATH,
    DELETED_PATH,
    DISCRETE_PAGINATION_LIMIT_EXCEEDED,
    FIELDS_PATH,
    ID_FIELD,
    IDS_PER_CALL,
    INVALID_TOKEN,
    ORG_PATH,
    PAGINATION_LIMIT_EXCEEDED,
    RECORDS_PATH,
    SORT_FIELD,
    TOKEN_PATH,
)
from crm_books.zoho.errors import RETRYABLE_TOKEN_ERRORS, CrmApiError, error_from_body
from crm_books.zoho.paging import Boundary, Page, ReadStats, format_zoho_time, split_fields
from crm_books.zoho.retry import RetryPolicy, backoff_delay, parse_retry_after

log = logging.getLogger(__name__)


class ZohoCrmClient:
    """Reads Zoho CRM v8 (or the sandbox): the org, field metadata, records and deletions.

    :param credentials: API base URL, accounts URL and the OAuth refresh-token client.
    :param retry: bounds for retrying rate limits, server errors and network failures.
    :param timeout: seconds per HTTP request.
    :param session: a `requests.Session` to reuse (one is created otherwise).
    :param sleep: called with the seconds to wait between retries (inject a fake in tests).
    :param on_token: called with each new access token, e.g. Airflow's `mask_secret`.
    :param per_page: records per page (Zoho allows at most 200).
    :param discrete_page_limit: records reachable with `page`; beyond it `page_token` is used.
    :param query_record_limit: records one query can page through before it must restart.
    :param max_fields_per_call: fields per call; more are fetched in chunks merged by id.
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
        per_page: int = PER_PAGE,
        discrete_page_limit: int = DISCRETE_PAGE_LIMIT,
        query_record_limit: int = QUERY_RECORD_LIMIT,
        max_fields_per_call: int = MAX_FIELDS_PER_CALL,
    ) -> None:
        if not 1 <= per_page <= PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {PER_PAGE}")
        self.credentials = credentials
        self.retry = retry
        self.timeout = timeout
        self.session = session or requests.Session()
        self.sleep = sleep
        self.on_token = on_token
        self.per_page = per_page
        self.discrete_page_limit = discrete_page_limit
        self.query_record_limit = query_record_limit
        self.max_fields_per_call = max_fields_per_call
        self._api_base = credentials.api_base_url.rstrip("/")
        self._accounts = credentials.accounts_url.rstrip("/")
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._random = random.random

    # -- public reads --

    def organization(self) -> dict[str, Any]:
        """The CRM organisation this client reads (`id`, `company_name`, ...)."""
        body = self._get(ORG_PATH, {})
        orgs = (body or {}).get("org") or []
        if not orgs:
            raise CrmApiError(200, "NO_ORG", "the /org call returned no organisation")
        return dict(orgs[0])

    def count(self, module: str) -> int:
        """How many records `module` holds now (Zoho's /actions/count), e.g. for progress ETAs."""
        body = self._get(COUNT_PATH.format(module=module), {})
        return int((body or {}).get("count") or 0)

    def check_fields(self, module: str, fields: Sequence[str]) -> None:
        """Raise a CrmApiError naming every field in `fields` that `module` does not have."""
        body = self._get(FIELDS_PATH, {"module": module})
        known = {str(f.get("api_name")) for f in (body or {}).get("fields") or []}
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

    def iter_pages(
        self, module: str, fields: Sequence[str], *, modified_since: datetime | None = None
    ) -> Iterator[Page]:
        """Yield `module`'s records page by page, each record once, sorted by Modified_Time.

        :param module: module API name (Accounts, Contacts, Deals).
        :param fields: field API names to read; more than the per-call limit are merged by id.
        :param modified_since: only records modified at or after this time (naive means UTC).
        """
        chunks = split_fields(fields, self.max_fields_per_call)
        stats = ReadStats()
        for page in self._iter_sorted(module, chunks[0], modified_since, stats):
            if len(chunks) > 1:
                self._merge_chunks(module, page, chunks[1:])
            stats.records += len(page)
            yield page
        log.info(
            "Read %d %s records in %d pages and %d queries in %.1fs",
            stats.records,
            module,
            stats.pages,
            stats.queries,
            time.monotonic() - stats.started,
        )

    def iter_deleted(self, module: str, *, deleted_since: datetime | None = None) -> Iterator[Page]:
        """Yield pages of `module`'s deleted records (`id`, `deleted_time`, ...), type=all."""
        path = DELETED_PATH.format(module=module)
        params: dict[str, Any] = {"type": "all", "per_page": self.per_page}
        stats = ReadStats(queries=1)
        for records, info in self._iter_query(path, params, deleted_since, stats, page_only=True):
            if info.get("_ceiling"):
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

    # -- paging --

    def _iter_sorted(
        self,
        module: str,
        fields: tuple[str, ...],
        since: datetime | None,
        stats: ReadStats,
    ) -> Iterator[Page]:
        """One query, restarted from the last Modified_Time whenever its ceiling is reached."""
        path = RECORDS_PATH.format(module=module)
        params: dict[str, Any] = {
            "fields": ",".join(fields),
            "per_page": self.per_page,
            "sort_by": SORT_FIELD,
            "sort_order": "asc",
        }
        boundary = Boundary()
        query_since = since
        while True:
            stats.queries += 1
            fresh_in_query = 0
            ceiling = False
            for records, info in self._iter_query(path, params, query_since, stats):
                fresh = boundary.admit(records)
                fresh_in_query += len(fresh)
                if fresh:
                    yield fresh
                ceiling = bool(info.get("_ceiling"))
            if not ceiling:
                return
            if boundary.time is None:
                raise CrmApiError(
                    400,
                    PAGINATION_LIMIT_EXCEEDED,
                    f"{module}: the query hit its paging limit before any record was read",
                    fix=f"use a per_page ({self.per_page}) within the discrete page limit",
                )
            if fresh_in_query == 0 and stats.queries > 1:
                raise CrmApiError(
                    400,
                    PAGINATION_LIMIT_EXCEEDED,
                    f"more {module} records share Modified_Time {boundary.time} than one query "
                    "can page through, so restarting from it cannot make progress",
                    fix="touch some of those records in the CRM so their Modified_Time differs",
                )
            log.debug(
                "%s: query ceiling reached, restarting from Modified_Time %s (%d ids held)",
                module,
                boundary.time.isoformat(),
                len(boundary.ids),
            )
            query_since = boundary.time

    def _iter_query(
        self,
        path: str,
        base_params: dict[str, Any],
        since: datetime | None,
        stats: ReadStats,
        *,
        page_only: bool = False,
    ) -> Iterator[tuple[Page, dict[str, Any]]]:
        """Pages of one query: `page` up to the discrete limit, then `page_token`.

        `page_only` is for endpoints without page tokens (`/deleted`): `page` all the way.
        The info dict of the last page carries `_ceiling=True` when the query stopped at the
        page-token ceiling and must be restarted by the caller.
        """
        page_number, token = 1, None
        seen = 0
        while True:
            params = dict(base_params)
            if token:
                params["page_token"] = token
            else:
                params["page"] = page_number
            try:
                body = self._get(path, params, since=since)
            except CrmApiError as exc:
                if exc.code in {PAGINATION_LIMIT_EXCEEDED, DISCRETE_PAGINATION_LIMIT_EXCEEDED}:
                    yield [], {"_ceiling": True}
                    return
                raise
            if body is None:  # 204 no records, 304 nothing modified
                return
            records: Page = body.get("data") or []
            info: dict[str, Any] = dict(body.get("info") or {})
            seen += len(records)
            stats.pages += 1
            log.debug(
                "%s page %d: %d records (%d in this query)",
                path,
                stats.pages,
                len(records),
                seen,
            )
            if not info.get("more_records"):
                yield records, info
                return
            next_token = info.get("next_page_token")
            beyond_discrete = (
                not page_only and (page_number + 1) * self.per_page > self.discrete_page_limit
            )
            if seen >= self.query_record_limit or ((token or beyond_discrete) and not next_token):
                info["_ceiling"] = True
                yield records, info
                return
            yield records, info
            if token or beyond_discrete:
                token = next_token
            else:
                page_number += 1

    def _merge_chunks(self, module: str, page: Page, chunks: Sequence[tuple[str, ...]]) -> None:
        """Fill the page's records with the fields of the other chunks, fetched by id."""
        path = RECORDS_PATH.format(module=module)
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

    # -- HTTP --

    def _get(
        self, path: str, params: dict[str, Any], *, since: datetime | None = None
    ) -> dict[str, Any] | None:
        headers = {"If-Modified-Since": format_zoho_time(since)} if since else {}
        return self._send("GET", self._api_base + path, params=params, headers=headers)

    def _access_token(self) -> str:
        if self._token is None or time.monotonic() >= self._token_expires_at:
            self._refresh_token()
        assert self._token is not None
        return self._token

    def _refresh_token(self) -> None:
        creds = self.credentials
        form = {
            "grant_type": "refresh_token",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "refresh_token": creds.refresh_token,
        }
        body = self._send("POST", self._accounts + TOKEN_PATH, data=form, auth=False) or {}
        if "access_token" not in body:
            code, message, _ = error_from_body(200, body)
            raise CrmApiError(200, code, f"token refresh refused: {message}")
        token = str(body["access_token"])
        if self.on_token is not None:
            self.on_token(token)  # mask before anything could log it
        lifetime = float(body.get("expires_in", 3600))
        margin = min(TOKEN_REFRESH_MARGIN_SECONDS, lifetime / 10)
        self._token = token
        self._token_expires_at = time.monotonic() + lifetime - margin
        log.debug("Refreshed the Zoho access token (valid for %.0fs)", lifetime)

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> dict[str, Any] | None:
        """One call with retries; JSON body, or None for 204/304. Raises CrmApiError."""
        policy = self.retry
        started = time.monotonic()
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            request_headers = dict(headers or {})
            if auth:
                request_headers["Authorization"] = f"{AUTH_SCHEME} {self._access_token()}"
            retry_after: float | None = None
            status: int | None
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=request_headers,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                status, code = None, "CONNECTION_ERROR"
                message = f"{type(exc).__name__}: {str(exc)[:300]}"
            else:
                status = response.status_code
                if status in (204, 304):
                    return None
                body = _json_or_none(response)
                if response.ok:
                    if not isinstance(body, dict):
                        raise CrmApiError(
                            status,
                            "UNEXPECTED_RESPONSE",
                            f"{method} {url} did not return JSON",
                            fix="check the zoho_crm connection's host and extra.accounts_url",
                        )
                    if auth or "error" not in body or body["error"] not in RETRYABLE_TOKEN_ERRORS:
                        return body
                code, message, details = error_from_body(status, body)
                if details:
                    message = f"{message} ({details})"
                if status == 401 and auth and code == INVALID_TOKEN and not refreshed:
                    refreshed = True
                    attempt -= 1  # an expired token is not a failed attempt
                    self._token = None
                    log.info("Zoho access token rejected as invalid or expired; refreshing once")
                    continue
                retryable = status == 429 or status >= 500 or code in RETRYABLE_TOKEN_ERRORS
                if not retryable:
                    raise CrmApiError(status, code, f"{method} {_path(url)}: {message}")
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            elapsed = time.monotonic() - started
            delay = backoff_delay(attempt, policy, retry_after, self._random)
            if attempt >= policy.max_attempts or elapsed + delay > policy.max_total_seconds:
                raise CrmApiError(
                    status,
                    code,
                    f"{method} {_path(url)} gave up after {attempt} attempts in {elapsed:.1f}s; "
                    f"last error: {message}",
                    attempts=attempt,
                )
            log.warning(
                "Zoho %s %s failed (%s %s), retrying in %.2fs (attempt %d of %d)",
                method,
                _path(url),
                status if status is not None else "no response",
                code,
                delay,
                attempt,
                policy.max_attempts,
            )
            self.sleep(delay)


_decode_json = msgspec.json.Decoder().decode


def _json_or_none(response: requests.Response) -> Any:
    """The decoded body, or None when it is not JSON. msgspec decodes a 200-record page several
    times faster than the standard library; what it refuses (a lone surrogate escape, invalid
    UTF-8) is given to the standard library. Invalid UTF-8 bytes decode as lone surrogates
    (surrogateescape), so one bad value costs its record, not the page: the sync quarantines it."""
    try:
        return _decode_json(response.content)
    except ValueError:  # msgspec.DecodeError, or UnicodeDecodeError for invalid UTF-8
        pass
    try:
        return json.loads(response.content.decode("utf-8-sig", errors="surrogateescape"))
    except ValueError:
        return None


def _path(url: str) -> str:
    """The URL without scheme and host, for messages."""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]
