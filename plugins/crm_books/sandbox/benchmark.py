"""Measures the sandbox: records/s generated, and records/s served over loopback HTTP."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from typing import Any

import requests

from crm_books import settings
from crm_books.sandbox.generator import Generator
from crm_books.sandbox.server import SandboxConfig, SandboxServer


@dataclass(frozen=True)
class BenchResult:
    records: int
    seconds: float
    peak_rss_mb: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_generate(records: int, seed: int = 7) -> BenchResult:
    """Generate `records` contacts (bodies and times), keeping none of them."""
    gen = Generator(seed=seed, accounts=records // 3 or 1, contacts=records, deals=0)
    start = time.perf_counter()
    for i in range(records):
        gen.times(settings.CONTACTS, i)
        gen.body(settings.CONTACTS, i)
    return BenchResult(records, time.perf_counter() - start, _peak_rss_mb())


def bench_serve(records: int, seed: int = 7) -> BenchResult:
    """Read a module of `records` accounts over HTTP: pages, page tokens and restarts from the
    last Modified_Time past the 100,000-record query limit (a bare client, no retries)."""
    server = SandboxServer(SandboxConfig(seed=seed, accounts=records, contacts=0, deals=0))
    fields = ",".join(settings.MODULE_FIELDS[settings.ACCOUNTS])
    seen: set[str] = set()
    with server, requests.Session() as session:
        token = session.post(
            f"{server.accounts_url}/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": server.client_id,
                "client_secret": server.client_secret,
                "refresh_token": server.refresh_token,
            },
            timeout=30,
        ).json()["access_token"]
        auth = {"Authorization": f"Zoho-oauthtoken {token}"}
        start = time.perf_counter()
        since: str | None = None
        while True:
            last, done = _one_query(session, server.base_url, auth, fields, since, seen)
            if done:
                break
            since = last
        seconds = time.perf_counter() - start
    return BenchResult(len(seen), seconds, _peak_rss_mb())


def _one_query(
    session: requests.Session,
    base_url: str,
    auth: dict[str, str],
    fields: str,
    since: str | None,
    seen: set[str],
) -> tuple[str | None, bool]:
    headers = {**auth, **({"If-Modified-Since": since} if since else {})}
    page, page_token, last = 1, None, since
    while True:
        params: dict[str, Any] = {
            "fields": fields,
            "per_page": 200,
            "sort_by": "Modified_Time",
            "sort_order": "asc",
        }
        params.update({"page_token": page_token} if page_token else {"page": page})
        resp = session.get(
            f"{base_url}/crm/v8/{settings.ACCOUNTS}", params=params, headers=headers, timeout=60
        )
        if resp.status_code == 400 and resp.json().get("code") == "PAGINATION_LIMIT_EXCEEDED":
            return last, False
        if resp.status_code in (204, 304):
            return last, True
        resp.raise_for_status()
        body = resp.json()
        seen.update(r["id"] for r in body["data"])
        last = body["data"][-1]["Modified_Time"]
        if not body["info"]["more_records"]:
            return last, True
        if page_token or (page + 1) * 200 > settings.DISCRETE_PAGE_LIMIT:
            page_token = body["info"]["next_page_token"]
        else:
            page += 1
