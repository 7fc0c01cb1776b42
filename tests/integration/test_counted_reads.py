"""Counted incremental reads (the count known from /actions/count) are read page-parallel:
each query's pages at once, page `reach` starting the next query (zoho/windows.py).

Small paging limits stand in for Zoho's 2,000 / 100,000 (records reachable with `page` / per
query), so the tests cross them with a few hundred records.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm_books.zoho.client import ZohoCrmClient
from tests.integration.sandbox_client import client_for, running_sandbox
from zoho_sandbox import SandboxServer

T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)
LIMITS = {"discrete_page_limit": 20, "query_record_limit": 30}  # 4 pages of 5 a query
PER_PAGE = 5
FIELDS = ["Account_Name"]


def add_accounts(sb: SandboxServer, seconds: list[int]) -> list[str]:
    """One account modified at T0 + s for each s (in that order); their ids."""
    ids = []
    for n, second in enumerate(seconds):
        sb.set_clock(T0 + timedelta(seconds=second))
        ids.append(sb.store.upsert("Accounts", {"Account_Name": f"Company {n}"})["id"])
    sb.set_clock(T0 + timedelta(hours=1))
    return ids


def counted_read(client: ZohoCrmClient, expected: int | None) -> list[str]:
    pages = client.iter_pages(
        "Accounts",
        FIELDS,
        modified_since=T0,
        split_until=T0 + timedelta(hours=1),
        expected=lambda: expected,
    )
    return [r["id"] for page in pages for r in page]


def record_pages_served(sb: SandboxServer) -> int:
    return sum(n for key, n in sb.stats["by_request"].items() if key.startswith("GET /crm/v8/"))


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox(accounts=0, contacts=0, deals=0, **LIMITS) as sb:
        yield sb


def client(sb: SandboxServer, **options: Any) -> ZohoCrmClient:
    return client_for(sb, per_page=PER_PAGE, max_concurrency=4, **LIMITS, **options)


def test_a_counted_read_reads_each_record_once_in_about_count_over_page_calls(
    sandbox: SandboxServer,
) -> None:
    """97 records, two to a second: 20 pages is the least; the restarts (every 20 records)
    read again the records sharing the restart time, a few calls more."""
    ids = add_accounts(sandbox, [n // 2 for n in range(97)])
    sandbox.reset_stats()

    read = counted_read(client(sandbox), expected=97)

    assert sorted(read) == sorted(ids)  # each once
    least = math.ceil(97 / PER_PAGE)
    assert least <= record_pages_served(sandbox) <= least + 3


@pytest.mark.parametrize("expected", [40, 97, 300, None])
def test_a_wrong_or_missing_count_still_reads_each_record_once(
    sandbox: SandboxServer, expected: int | None
) -> None:
    """Too low (records modified after the count), too high (deleted since), or none (the
    time windows instead): every record once all the same."""
    ids = add_accounts(sandbox, [n // 3 for n in range(97)])

    assert sorted(counted_read(client(sandbox), expected)) == sorted(ids)


def test_more_records_at_one_time_than_a_query_reaches_are_read_once() -> None:
    """25 records share one second (a query reaches 20 with `page`), 40 more share another
    (more than a query's 30 at all: the rest through Bulk Read), between records before and
    after them."""
    seconds = [*range(10), *[10] * 25, *range(11, 21), *[21] * 40, *range(22, 32)]
    with running_sandbox(accounts=0, contacts=0, deals=0, **LIMITS) as sb:
        ids = add_accounts(sb, seconds)
        read = counted_read(client(sb), expected=len(ids))
        bulk_jobs = sb.stats["usage"]["bulk_jobs"]

    assert sorted(read) == sorted(ids)
    assert bulk_jobs == 1


def test_a_skewed_range_is_read_at_the_cap_in_about_total_over_cap_rounds() -> None:
    """160 records: 150 in the last minute of the hour the read splits, 10 spread before. The
    time windows leave the last window most of the pages, read one after the other; the
    counted read keeps 4 calls in flight (the sandbox's peak) and takes about 32 / 4 rounds."""
    seconds = [n * 300 for n in range(10)] + [3540 + n % 60 for n in range(150)]
    knobs = {"latency_ms": 40, "jitter_ms": 0, "max_concurrency": 8}
    with running_sandbox(
        accounts=0, contacts=0, deals=0, profile="zoho", knobs=knobs, **LIMITS
    ) as sb:
        ids = add_accounts(sb, sorted(seconds))
        rounds = {}
        for name, expected in (("windows", None), ("counted", len(ids))):
            sb.reset_stats()
            read = counted_read(client(sb), expected)
            assert sorted(read) == sorted(ids), name
            calls = [c for c in sb.timeline if "/crm/v8/Accounts" in c["path"]]
            span = max(c["end"] for c in calls) - min(c["start"] for c in calls)
            rounds[name] = span / 0.04
            peak = sb.stats["usage"]["peak_in_flight"]
            assert peak == 4, name

    pages = math.ceil(160 / PER_PAGE)
    assert rounds["counted"] <= pages / 4 + 4  # the first page alone, a restart chain of 2
    assert rounds["windows"] > rounds["counted"] + 4
