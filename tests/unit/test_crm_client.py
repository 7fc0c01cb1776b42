"""ZohoCrmClient against a scripted Zoho stub over loopback HTTP: paging, retries, auth, errors."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_books.zoho.auth import CrmCredentials
from crm_books.zoho.client import ZohoCrmClient
from crm_books.zoho.errors import CrmApiError
from crm_books.zoho.paging import format_zoho_time, parse_zoho_time, split_fields
from crm_books.zoho.retry import RetryPolicy, backoff_delay, parse_retry_after

T0 = datetime(2026, 1, 1, tzinfo=UTC)
IST = timezone(timedelta(hours=5, minutes=30))


@dataclass
class Reply:
    """A scripted response the stub returns instead of its normal answer."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without answering


@dataclass
class ZohoStub:
    """A small Zoho CRM v8 look-alike whose limits and failures each test sets."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deleted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    field_names: dict[str, set[str]] = field(default_factory=dict)
    discrete_limit: int = 2000
    query_limit: int = 100_000
    issue_page_tokens: bool = True
    max_fields: int = 50
    client_secret: str = "s3cret"
    token_lifetime: int = 3600
    # Scripted replies for API calls (keyed by path prefix) and for the token endpoint.
    script: list[Reply] = field(default_factory=list)
    token_script: list[Reply] = field(default_factory=list)
    expired_tokens: set[str] = field(default_factory=set)
    reject_tokens: bool = False  # as if the org's data centre did not know the client
    requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def api_calls(self, prefix: str = "/crm/") -> list[tuple[str, dict[str, str], dict[str, str]]]:
        return [(p, q, h) for m, p, q, h in self.requests if p.startswith(prefix)]

    # -- request handling (runs on the server thread) --

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        form: dict[str, str],
    ) -> Reply:
        with self.lock:
            self.requests.append((method, path, query, headers))
            if path == "/oauth/v2/token":
                return self._token(form)
            auth = headers.get("authorization", "")
            token = auth.removeprefix("Zoho-oauthtoken ")
            if token not in self.issued or token in self.expired_tokens or self.reject_tokens:
                return Reply(401, _err("INVALID_TOKEN", "invalid oauth token"))
            if self.script:
                return self.script.pop(0)
            return self._api(path, query, headers)

    def _token(self, form: dict[str, str]) -> Reply:
        if self.token_script:
            return self.token_script.pop(0)
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != "rt":
            return Reply(400, {"error": "invalid_code"})
        if form.get("client_secret") != self.client_secret:
            return Reply(200, {"error": "invalid_client"})  # Zoho answers 200 here
        token = f"1000.access-{len(self.issued)}-abcdef"
        self.issued.append(token)
        return Reply(
            200,
            {
                "access_token": token,
                "expires_in": self.token_lifetime,
                "api_domain": "http://x",
                "token_type": "Bearer",
            },
        )

    def _api(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
        parts = path.strip("/").split("/")  # crm, v8, ...
        if parts[2:] == ["org"]:
            return Reply(200, {"org": [{"id": "org-1", "company_name": "Stub Org"}]})
        if parts[2:4] == ["settings", "fields"]:
            names = self.field_names.get(query.get("module", ""))
            if names is None:
                return Reply(
                    400, _err("INVALID_MODULE", "the module name given seems to be invalid")
                )
            return Reply(200, {"fields": [{"api_name": n} for n in sorted(names)]})
        module = parts[2]
        if module not in self.records:
            return Reply(400, _err("INVALID_MODULE", "the module name given seems to be invalid"))
        since = headers.get("if-modified-since")
        if parts[3:] == ["deleted"]:
            rows = self.deleted.get(module, [])
            if since:
                rows = [
                    r for r in rows if parse_zoho_time(r["deleted_time"]) >= parse_zoho_time(since)
                ]
            return self._page(rows, query, with_tokens=False)
        return self._records(module, query, since)

    def _records(self, module: str, query: dict[str, str], since: str | None) -> Reply:
        wanted = [f for f in query.get("fields", "").split(",") if f]
        if not wanted:
            return Reply(
                400, _err("REQUIRED_PARAM_MISSING", "One of the expected parameter is missing")
            )
        if len(wanted) > self.max_fields:
            return Reply(400, _err("LIMIT_EXCEEDED", "Max field limit exceeded"))
        known = self.field_names.get(module, set()) | {"id", "Modified_Time"}
        unknown = [f for f in wanted if f not in known]
        if unknown:
            return Reply(400, _err("INVALID_DATA", "invalid data", {"api_name": unknown[0]}))
        rows = self.records[module]
        if "ids" in query:
            ids = set(query["ids"].split(","))
            rows = [r for r in rows if r["id"] in ids]
        if since:
            floor = parse_zoho_time(since)
            rows = [r for r in rows if parse_zoho_time(r["Modified_Time"]) >= floor]
            if not rows:
                return Reply(304)
        if query.get("sort_by") == "Modified_Time":
            rows = sorted(rows, key=lambda r: (parse_zoho_time(r["Modified_Time"]), r["id"]))
        if not rows:
            return Reply(204)
        keep = set(wanted) | {"id"}
        rows = [{k: v for k, v in r.items() if k in keep} for r in rows]
        return self._page(rows, query, with_tokens=self.issue_page_tokens)

    def _page(
        self, rows: list[dict[str, Any]], query: dict[str, str], *, with_tokens: bool
    ) -> Reply:
        per_page = int(query.get("per_page", 200))
        if "page_token" in query:
            start = int(query["page_token"].removeprefix("pt-"))
        else:
            start = (int(query.get("page", 1)) - 1) * per_page
            if start + per_page > self.discrete_limit:
                return Reply(400, _err("DISCRETE_PAGINATION_LIMIT_EXCEEDED", "limit exceeded"))
        if start >= self.query_limit:
            return Reply(400, _err("PAGINATION_LIMIT_EXCEEDED", "limit exceeded"))
        end = min(start + per_page, len(rows), self.query_limit)
        info: dict[str, Any] = {
            "per_page": per_page,
            "count": end - start,
            "more_records": end < len(rows),
        }
        if with_tokens and end < len(rows):
            info["next_page_token"] = f"pt-{end}"
        return Reply(200, {"data": rows[start:end], "info": info})


def _err(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"code": code, "details": details or {}, "message": message, "status": "error"}


def _handler_for(stub: ZohoStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form = {k: v[-1] for k, v in parse_qs(raw).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = stub.handle(self.command, url.path, query, headers, form)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.drop:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(2)
                return
            payload = (
                reply.body
                if isinstance(reply.body, bytes)
                else b""
                if reply.body is None
                else json.dumps(reply.body).encode()
            )
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

    return Handler


@pytest.fixture
def stub() -> Iterator[tuple[ZohoStub, str]]:
    zoho = ZohoStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(zoho))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield zoho, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Sleeps(list[float]):
    """Records the waits the client asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(base: str, *, secret: str = "s3cret", **options: Any) -> ZohoCrmClient:
    creds = CrmCredentials(base, base, "client-1", secret, "rt")
    options.setdefault("sleep", Sleeps())
    options.setdefault("timeout", 5.0)
    return ZohoCrmClient(creds, **options)


def make_records(n: int, *, per_second: int = 1, start: datetime = T0) -> list[dict[str, Any]]:
    """n records, `per_second` of them sharing each Modified_Time, times written in IST."""
    return [
        {
            "id": f"{i:09d}",
            "Account_Name": f"Company {i}",
            "Modified_Time": (start + timedelta(seconds=i // per_second))
            .astimezone(IST)
            .isoformat(),
        }
        for i in range(n)
    ]


def read_all(client: ZohoCrmClient, module: str = "Accounts", **kw: Any) -> list[dict[str, Any]]:
    return [r for page in client.iter_pages(module, ["Account_Name"], **kw) for r in page]


def with_accounts(zoho: ZohoStub, records: list[dict[str, Any]]) -> None:
    zoho.records["Accounts"] = records
    zoho.field_names["Accounts"] = {"Account_Name", "Modified_Time", "Phone"}


# --- pure helpers ---------------------------------------------------------------------------


def test_times_keep_their_offsets_and_if_modified_since_has_one() -> None:
    parsed = parse_zoho_time("2026-03-01T10:00:00+05:30")
    assert parsed == datetime(2026, 3, 1, 4, 30, tzinfo=UTC)
    assert format_zoho_time(datetime(2026, 3, 1, 4, 30, 15, 999, tzinfo=UTC)) == (
        "2026-03-01T04:30:15+00:00"
    )
    assert format_zoho_time(datetime(2026, 3, 1, 10, 0, tzinfo=IST)) == "2026-03-01T10:00:00+05:30"
    assert format_zoho_time(datetime(2026, 3, 1)) == "2026-03-01T00:00:00+00:00"  # naive = UTC


@given(st.lists(st.text(min_size=1, max_size=8), max_size=200), st.integers(3, 60))
def test_field_chunks_respect_the_limit_and_carry_the_merge_keys(
    fields: list[str], limit: int
) -> None:
    chunks = split_fields(fields, limit)
    assert all(len(c) <= limit and c[:2] == ("id", "Modified_Time") for c in chunks)
    assert {f for c in chunks for f in c} == set(fields) | {"id", "Modified_Time"}


@given(st.integers(1, 20))
def test_backoff_is_full_jitter_capped_by_max_delay(attempt: int) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    ceiling = min(4.0, 0.5 * 2 ** (attempt - 1))
    assert backoff_delay(attempt, policy, None, lambda: 0.999999) <= ceiling
    assert backoff_delay(attempt, policy, None, lambda: 0.0) == 0.0
    assert backoff_delay(attempt, policy, 7.0, lambda: 0.5) == 7.0


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:10 GMT", now) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- reads ----------------------------------------------------------------------------------


def test_reads_past_the_page_limit_with_page_tokens_exactly_once(
    stub: tuple[ZohoStub, str],
) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(470))
    zoho.discrete_limit = 100
    client = make_client(base, per_page=20, discrete_page_limit=100)

    ids = [r["id"] for r in read_all(client)]

    assert sorted(ids) == [f"{i:09d}" for i in range(470)]
    assert len(ids) == len(set(ids))
    queries = [q for _, q, _ in zoho.api_calls()]
    assert [q["page"] for q in queries if "page" in q] == [str(p) for p in range(1, 6)]
    assert sum("page_token" in q for q in queries) == 19
    assert all(
        q["per_page"] == "20" and q["sort_by"] == "Modified_Time" and q["sort_order"] == "asc"
        for q in queries
    )


def test_restarts_from_last_modified_time_at_the_query_ceiling(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(1000, per_second=7))  # ties straddle every restart
    zoho.discrete_limit, zoho.query_limit = 60, 150
    client = make_client(base, per_page=20, discrete_page_limit=60, query_record_limit=150)

    ids = [r["id"] for r in read_all(client)]

    assert len(ids) == 1000 and len(set(ids)) == 1000
    restarts = [h["if-modified-since"] for _, _, h in zoho.api_calls() if "if-modified-since" in h]
    assert len(set(restarts)) >= 6  # each restart starts from a later Modified_Time


def test_server_side_pagination_limit_also_restarts(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(500, per_second=3))
    zoho.discrete_limit, zoho.query_limit = 40, 100  # the client does not know these limits
    client = make_client(base, per_page=20, discrete_page_limit=40)

    ids = [r["id"] for r in read_all(client)]

    assert sorted(ids) == [f"{i:09d}" for i in range(500)]
    assert any("if-modified-since" in h for _, _, h in zoho.api_calls())


def test_without_page_tokens_the_read_restarts_instead_of_failing(
    stub: tuple[ZohoStub, str],
) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(300, per_second=2))
    zoho.discrete_limit, zoho.issue_page_tokens = 60, False
    client = make_client(base, per_page=20, discrete_page_limit=60)

    ids = [r["id"] for r in read_all(client)]

    assert sorted(ids) == [f"{i:09d}" for i in range(300)]


def test_more_records_than_a_query_can_reach_at_one_time_is_a_clear_error(
    stub: tuple[ZohoStub, str],
) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(100, per_second=100))  # all share one Modified_Time
    client = make_client(base, per_page=10, discrete_page_limit=20, query_record_limit=30)

    with pytest.raises(CrmApiError, match="share Modified_Time"):
        read_all(client)


def test_pages_are_streamed_not_collected(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(1000))
    client = make_client(base, per_page=50)

    pages = client.iter_pages("Accounts", ["Account_Name"])
    first = next(pages)

    assert len(first) == 50
    assert len(zoho.api_calls()) == 1  # only the first page has been fetched


def test_incremental_read_sends_if_modified_since_and_gets_only_newer(
    stub: tuple[ZohoStub, str],
) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(100))
    client = make_client(base)
    since = datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)

    ids = [r["id"] for r in read_all(client, modified_since=since)]

    assert ids == [f"{i:09d}" for i in range(90, 100)]  # inclusive of the boundary second
    assert zoho.api_calls()[0][2]["if-modified-since"] == "2026-01-01T00:01:30+00:00"


@pytest.mark.parametrize("status", [204, 304])
def test_no_content_and_not_modified_mean_nothing(stub: tuple[ZohoStub, str], status: int) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(10))
    zoho.script = [Reply(status)]
    client = make_client(base)

    assert list(client.iter_pages("Accounts", ["Account_Name"], modified_since=T0)) == []


def test_records_keep_zoho_shape(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    zoho.records["Contacts"] = [
        {
            "id": "7",
            "Last_Name": "O'Brien",
            "Account_Name": {"name": "Acme", "id": "1"},
            "Modified_Time": "2026-01-01T10:00:00+05:30",
        }
    ]
    zoho.field_names["Contacts"] = {"Last_Name", "Account_Name", "Modified_Time"}
    client = make_client(base)

    pages = list(client.iter_pages("Contacts", ["Last_Name", "Account_Name"]))

    assert pages == [zoho.records["Contacts"]]


def test_a_page_with_invalid_utf8_or_lone_surrogates_still_yields_every_record(
    stub: tuple[ZohoStub, str],
) -> None:
    """One bad value must cost its record (the sync quarantines it), never the page of 200."""
    zoho, base = stub
    with_accounts(zoho, [])
    records = make_records(200)
    records[7]["Account_Name"] = "MARKER"
    records[9]["Account_Name"] = "Lone \ud800 Ltd"
    body = json.dumps({"data": records, "info": {"more_records": False}}).encode()
    zoho.script = [Reply(200, body.replace(b"MARKER", b"Caf\xe9 \xff"))]
    client = make_client(base)

    pages = list(client.iter_pages("Accounts", ["Account_Name"]))

    assert [len(page) for page in pages] == [200]
    names = [r["Account_Name"] for r in pages[0]]
    # invalid bytes arrive as lone surrogates (surrogateescape): the original bytes are kept
    assert names[7].encode("utf-8", "surrogateescape") == b"Caf\xe9 \xff"
    assert names[9] == "Lone \ud800 Ltd"
    assert names[:7] == [r["Account_Name"] for r in records[:7]]


def test_more_than_fifty_fields_are_read_in_chunks_and_merged(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    extra = [f"Field_{i}" for i in range(120)]
    records = make_records(250)
    for r in records:
        del r["Account_Name"]
        r.update({f: f"{f}-{r['id']}" for f in extra})
    zoho.records["Accounts"] = records
    zoho.field_names["Accounts"] = set(extra)
    client = make_client(base)

    got = [r for page in client.iter_pages("Accounts", extra) for r in page]

    assert got == records
    field_lists = [q["fields"].split(",") for _, q, _ in zoho.api_calls()]
    assert all(len(f) <= 50 for f in field_lists)
    assert all({"id", "Modified_Time"} <= set(f) for f in field_lists)


def test_deleted_records_are_listed_page_by_page(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, [])
    zoho.deleted["Accounts"] = [
        {"id": str(i), "deleted_time": (T0 + timedelta(minutes=i)).isoformat(), "type": "recycle"}
        for i in range(45)
    ]
    client = make_client(base, per_page=20)

    pages = list(client.iter_deleted("Accounts", deleted_since=T0 + timedelta(minutes=5)))

    assert [len(p) for p in pages] == [20, 20]
    assert {r["id"] for p in pages for r in p} == {str(i) for i in range(5, 45)}
    assert all(q["type"] == "all" for _, q, _ in zoho.api_calls())


def test_organization_and_field_check(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, [])
    client = make_client(base)

    assert client.organization()["company_name"] == "Stub Org"
    client.check_fields("Accounts", ["id", "Account_Name", "Phone"])
    with pytest.raises(CrmApiError, match="Accounts has no field named Acount_Name, Fone"):
        client.check_fields("Accounts", ["Acount_Name", "Phone", "Fone"])


# --- authentication -------------------------------------------------------------------------


def test_access_token_is_cached_and_sent_as_zoho_oauthtoken(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(50))
    seen: list[str] = []
    client = make_client(base, per_page=10, on_token=seen.append)

    read_all(client)
    client.organization()

    assert seen == zoho.issued and len(seen) == 1
    assert {h["authorization"] for _, _, h in zoho.api_calls()} == {f"Zoho-oauthtoken {seen[0]}"}
    token_calls = [(q, h) for m, p, q, h in zoho.requests if p == "/oauth/v2/token"]
    assert len(token_calls) == 1


def test_token_is_refreshed_before_it_expires(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, [])
    zoho.token_lifetime = 1  # refreshed a tenth of its lifetime before expiry
    client = make_client(base)

    client.organization()
    time.sleep(1.0)
    client.organization()

    assert len(zoho.issued) == 2
    assert not any(m == "GET" and "authorization" not in h for m, _, _, h in zoho.requests)


def test_expired_token_is_refreshed_once_and_the_call_retried(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(30))
    sleeps = Sleeps()
    client = make_client(base, per_page=10, sleep=sleeps)
    pages = client.iter_pages("Accounts", ["Account_Name"])
    next(pages)
    zoho.expired_tokens.add(zoho.issued[0])  # the server expires it mid-read

    rest = [r for page in pages for r in page]

    assert len(rest) == 20
    assert len(zoho.issued) == 2
    assert len(zoho.api_calls()) == 4  # 3 pages + the one answered 401
    assert sleeps == []  # a refresh is not a backoff


def test_token_rejected_again_after_refresh_fails_with_credentials_hint(
    stub: tuple[ZohoStub, str],
) -> None:
    zoho, base = stub
    with_accounts(zoho, [])
    client = make_client(base)
    client.organization()
    zoho.reject_tokens = True

    with pytest.raises(CrmApiError) as caught:
        client.organization()

    assert caught.value.status == 401 and caught.value.code == "INVALID_TOKEN"
    assert "accounts_url" in str(caught.value) and "refresh token" in str(caught.value)
    assert len([p for _, p, _, _ in zoho.requests if p == "/oauth/v2/token"]) == 2


# --- retries --------------------------------------------------------------------------------


def test_rate_limit_honours_retry_after(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(5))
    zoho.script = [
        Reply(429, _err("TOO_MANY_REQUESTS", "too many"), {"Retry-After": "2"}),
        Reply(429, _err("TOO_MANY_REQUESTS", "too many"), {"Retry-After": "1"}),
    ]
    sleeps = Sleeps()
    client = make_client(base, sleep=sleeps)

    assert len(read_all(client)) == 5
    assert sleeps == [2.0, 1.0]
    assert len(zoho.api_calls()) == 3


def test_server_errors_are_retried_with_jittered_backoff(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(5))
    zoho.script = [Reply(500, _err("INTERNAL_ERROR", "boom")), Reply(503, None), Reply(502, None)]
    sleeps = Sleeps()
    client = make_client(base, sleep=sleeps, retry=RetryPolicy(base_delay=0.5, max_delay=30))

    assert len(read_all(client)) == 5
    assert len(sleeps) == 3 and len(zoho.api_calls()) == 4
    assert all(0 <= s <= 0.5 * 2**i for i, s in enumerate(sleeps))


def test_dropped_connections_and_timeouts_are_retried(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(5))
    zoho.script = [Reply(200, drop=True), Reply(200, {"org": []}, delay=1.0)]
    sleeps = Sleeps()
    client = make_client(base, sleep=sleeps, timeout=0.3)

    assert len(read_all(client)) == 5
    assert len(sleeps) == 2


def test_retries_are_bounded_by_attempts(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, [])
    zoho.script = [Reply(503, None)] * 10
    sleeps = Sleeps()
    client = make_client(base, sleep=sleeps, retry=RetryPolicy(max_attempts=4))

    with pytest.raises(CrmApiError, match="gave up after 4 attempts") as caught:
        client.organization()

    assert caught.value.status == 503 and caught.value.attempts == 4
    assert len(zoho.api_calls()) == 4 and len(sleeps) == 3


def test_retries_are_bounded_by_total_time(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, [])
    zoho.script = [Reply(429, _err("TOO_MANY_REQUESTS", "x"), {"Retry-After": "120"})] * 3
    client = make_client(base, retry=RetryPolicy(max_total_seconds=60))

    with pytest.raises(CrmApiError, match="gave up after 1 attempts") as caught:
        client.organization()

    assert "API credits" in str(caught.value)
    assert len(zoho.api_calls()) == 1


def test_an_unreachable_host_is_retried_then_named(stub: tuple[ZohoStub, str]) -> None:
    _, base = stub
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    sleeps = Sleeps()
    creds = CrmCredentials(dead, base, "client-1", "s3cret", "rt")
    client = ZohoCrmClient(creds, sleep=sleeps, retry=RetryPolicy(max_attempts=3))

    with pytest.raises(CrmApiError, match=r"CONNECTION_ERROR.*gave up after 3 attempts") as caught:
        client.organization()

    assert "reachable" in str(caught.value) and len(sleeps) == 2


# --- configuration errors fail fast ---------------------------------------------------------


def test_bad_client_secret_fails_fast_naming_the_credentials(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    with_accounts(zoho, [])
    sleeps = Sleeps()
    client = make_client(base, secret="wrong", sleep=sleeps)

    with pytest.raises(CrmApiError, match="invalid_client") as caught:
        client.organization()

    message = str(caught.value)
    assert "client secret" in message and "accounts_url" in message
    assert sleeps == [] and len(zoho.requests) == 1


def test_revoked_refresh_token_fails_fast(stub: tuple[ZohoStub, str]) -> None:
    zoho, base = stub
    creds = CrmCredentials(base, base, "client-1", "s3cret", "revoked")
    client = ZohoCrmClient(creds, sleep=Sleeps())

    with pytest.raises(CrmApiError, match=r"invalid_code.*refresh token"):
        client.organization()
    assert len(zoho.requests) == 1


@pytest.mark.parametrize(
    ("module", "fields", "reply", "hint"),
    [
        ("Acounts", ["Account_Name"], None, "module API name"),
        ("Accounts", ["Acount_Name"], None, "field API names"),
        (
            "Accounts",
            ["Account_Name"],
            Reply(403, _err("OAUTH_SCOPE_MISMATCH", "invalid oauth scope")),
            "ZohoCRM.modules.ALL",
        ),
        (
            "Accounts",
            ["Account_Name"],
            Reply(403, _err("NO_PERMISSION", "permission denied")),
            "ZohoCRM.org.READ",
        ),
    ],
)
def test_configuration_errors_fail_fast_with_the_fix(
    stub: tuple[ZohoStub, str], module: str, fields: list[str], reply: Reply | None, hint: str
) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(5))
    if reply:
        zoho.script = [reply]
    sleeps = Sleeps()
    client = make_client(base, sleep=sleeps)

    with pytest.raises(CrmApiError, match=hint) as caught:
        list(client.iter_pages(module, fields))

    assert caught.value.status in {400, 403} and caught.value.attempts == 1
    assert sleeps == [] and len(zoho.api_calls()) == 1


def test_access_token_never_reaches_the_logs(
    stub: tuple[ZohoStub, str], caplog: pytest.LogCaptureFixture
) -> None:
    zoho, base = stub
    with_accounts(zoho, make_records(60))
    zoho.script = [Reply(429, _err("TOO_MANY_REQUESTS", "x"), {"Retry-After": "0"}), Reply(500)]
    client = make_client(base, per_page=20)
    caplog.set_level(logging.DEBUG)

    pages = client.iter_pages("Accounts", ["Account_Name"])
    next(pages)
    zoho.expired_tokens.add(zoho.issued[0])
    list(pages)
    zoho.reject_tokens = True
    with pytest.raises(CrmApiError, match="INVALID_TOKEN"):
        client.organization()

    assert len(zoho.requests) > 5 and caplog.records
    assert "Read 60 Accounts records" in caplog.text  # the summary is logged at info
    for secret in ["1000.access-", "s3cret", "Zoho-oauthtoken"]:
        assert secret not in caplog.text


# --- the Airflow hook -----------------------------------------------------------------------


def _connection(**overrides: Any) -> Any:
    from airflow.sdk import Connection

    values: dict[str, Any] = {
        "conn_id": "zoho_crm",
        "conn_type": "http",
        "host": "www.zohoapis.eu",
        "login": "1000.client",
        "password": "client-secret",
        "extra": json.dumps(
            {"refresh_token": "1000.refresh", "accounts_url": "https://accounts.zoho.eu/"}
        ),
    }
    values.update(overrides)
    return Connection(**values)


def test_hook_maps_the_connection_to_credentials() -> None:
    from crm_books.zoho.hook import credentials_from_connection

    creds = credentials_from_connection(_connection())

    assert creds == CrmCredentials(
        "https://www.zohoapis.eu",
        "https://accounts.zoho.eu",
        "1000.client",
        "client-secret",
        "1000.refresh",
    )
    local = credentials_from_connection(_connection(host="127.0.0.1", schema="http", port=8765))
    assert local.api_base_url == "http://127.0.0.1:8765"
    default = credentials_from_connection(_connection(extra='{"refresh_token": "r"}'))
    assert default.accounts_url == "https://accounts.zoho.com"


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ({"host": None}, "set host"),
        ({"login": None}, "set login"),
        ({"password": None}, "set password"),
        ({"extra": '{"accounts_url": "https://accounts.zoho.com"}'}, "refresh_token"),
    ],
)
def test_hook_names_the_connection_field_to_fill(missing: dict[str, Any], named: str) -> None:
    from crm_books.zoho.hook import CrmConnectionError, credentials_from_connection

    with pytest.raises(CrmConnectionError, match=f"'zoho_crm'.*{named}"):
        credentials_from_connection(_connection(**missing))


def test_hook_client_masks_every_new_token(
    stub: tuple[ZohoStub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    from crm_books.zoho.hook import ZohoCrmHook

    zoho, base = stub
    with_accounts(zoho, [])
    conn = {
        "conn_type": "http",
        "host": base,
        "login": "client-1",
        "password": "s3cret",
        "extra": {"refresh_token": "rt", "accounts_url": base},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM_UNIT", json.dumps(conn))

    client = ZohoCrmHook(zoho_crm_conn_id="zoho_crm_unit").get_client(sleep=Sleeps())
    client.organization()

    token = zoho.issued[0]
    assert redact(f"token={token}") == "token=***"
