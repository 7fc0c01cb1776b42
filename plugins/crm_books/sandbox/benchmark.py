"""Measures the sandbox: records/s generated, and records/s served over loopback HTTP."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from crm_books import settings
from crm_books.sandbox.generator import Generator
from crm_books.sandbox.process import sandbox_process
from crm_books.sandbox.server import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN


@dataclass(frozen=True)
class BenchResult:
    records: int
    seconds: float
    cpu_seconds: float  # of this process only
    peak_rss_mb: float  # of this process only
    server_cpu_seconds: float | None = None  # of the server process, when there is one
    server_peak_rss_mb: float | None = None

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def _peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_generate(records: int, seed: int = 7) -> BenchResult:
    """Generate `records` contacts (bodies and times), keeping none of them."""
    gen = Generator(seed=seed, accounts=records // 3 or 1, contacts=records, deals=0)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(records):
        gen.times(settings.CONTACTS, i)
        gen.body(settings.CONTACTS, i)
    elapsed = time.perf_counter() - start
    return BenchResult(records, elapsed, time.process_time() - cpu, _peak_rss_mb())


def bench_serve(records: int, seed: int = 7) -> BenchResult:
    """Read a module of `records` accounts over HTTP: pages, page tokens and restarts from the
    last Modified_Time past the 100,000-record query limit (a bare client, no retries)."""
    fields = ",".join(settings.MODULE_FIELDS[settings.ACCOUNTS])
    seen: set[str] = set()
    with sandbox_process(records, 0, seed=seed) as (base_url, pid), requests.Session() as session:
        token = session.post(
            f"{base_url}/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN,
            },
            timeout=30,
        ).json()["access_token"]
        auth = {"Authorization": f"Zoho-oauthtoken {token}"}
        start, cpu, server_cpu = time.perf_counter(), time.process_time(), _cpu_of(pid)
        since: str | None = None
        while True:
            last, done = _one_query(session, base_url, auth, fields, since, seen)
            if done:
                break
            since = last
        seconds = time.perf_counter() - start
        server_cpu = _cpu_of(pid) - server_cpu
        server_rss = _peak_rss_of(pid)
    return BenchResult(
        len(seen), seconds, time.process_time() - cpu, _peak_rss_mb(), server_cpu, server_rss
    )


def _peak_rss_of(pid: int) -> float:
    """Peak resident memory of a process in MB (Linux /proc VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
