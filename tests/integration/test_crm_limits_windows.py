"""Concurrent Modified_Time windows against Zoho's paging limits and its concurrency cap.

tests/integration/test_crm_concurrent_reads.py checks the windows with the sandbox's paging
limits scaled down (page tokens past 60 records, restarts past 150). These add the real limits
(page tokens past 2,000, a restart past 100,000 in one window) and the `zoho` profile's cap set
below the client's, so that windows meet 429s, back off and retry, and still read every id once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crm_books.config import ACCOUNTS, DISCRETE_PAGE_LIMIT, QUERY_RECORD_LIMIT
from crm_books.customers.extract import extract_module
from crm_books.zoho.retry import RetryPolicy
from tests.integration.sandbox_client import Tap, api_requests, client_for, running_sandbox
from tests.integration.test_bulk_read import FULL, NEXT
from tests.integration.test_sync_concurrency_and_faults import complete, prepare
from zoho_sandbox import SandboxConfig, SandboxServer

ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)  # the sandbox's clock; generated records are older
SINCE = ANCHOR - timedelta(days=3650)  # before every generated record


def read_all(client: Any) -> list[str]:
    pages = client.iter_pages(ACCOUNTS, ["Account_Name"], modified_since=SINCE, split_until=ANCHOR)
    return [str(r["id"]) for page in pages for r in page]


def query_starts(session: Tap) -> list[str]:
    """The If-Modified-Since of each query's first page: the head read, each window, restarts."""
    return [s.headers["if-modified-since"] for s in session.api() if s.params.get("page") == "1"]


@pytest.fixture
def big() -> Iterator[SandboxServer]:
    # Enough records that one of two windows holds more than one query can page through.
    cfg = SandboxConfig(accounts=240_000, contacts=0, deals=0, clock_start=ANCHOR)
    with SandboxServer(cfg) as sb:
        yield sb


def test_windows_cross_the_real_2000_and_100000_limits_and_read_each_id_once(
    big: SandboxServer,
) -> None:
    assert (DISCRETE_PAGE_LIMIT, QUERY_RECORD_LIMIT) == (2_000, 100_000)  # Zoho's own
    session = Tap()
    client = client_for(big, session=session, max_concurrency=2)

    ids = read_all(client)

    assert len(ids) == len(set(ids)) == 240_000
    assert big.store.count(ACCOUNTS) == 240_000 and all(
        big.store.get(ACCOUNTS, i) for i in ids[::997]
    )
    starts = query_starts(session)
    # The head read and two windows, plus at least one restart: a window past 100,000.
    assert len(starts) >= 4 and len(set(starts)) == len(starts)
    assert sum("page_token" in s.params for s in session.api()) > 0  # past 2,000
    assert api_requests(big, "/crm/v8/Accounts", 400) == 0  # every limit known, none hit


SMALL_LIMITS = {"discrete_page_limit": 60, "query_record_limit": 150}


@pytest.fixture
def capped() -> Iterator[SandboxServer]:
    # The zoho profile with 20 ms calls and a cap of 2 in flight; small paging limits.
    knobs = {"latency_ms": 20, "jitter_ms": 0, "max_concurrency": 2}
    cfg = SandboxConfig(
        accounts=2_400,
        contacts=0,
        deals=0,
        clock_start=ANCHOR,
        profile="zoho",
        knobs=knobs,
        **SMALL_LIMITS,
    )
    with SandboxServer(cfg) as sb:
        yield sb


def test_windows_meeting_429s_from_the_cap_retry_and_read_each_id_once(
    capped: SandboxServer,
) -> None:
    # The client allows 4 in flight (another app uses the org's cap, say): Zoho refuses some.
    session = Tap()
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # Retry-After: 1, shortened to keep the test fast
        waits.append(seconds)
        time.sleep(0.05)

    client = client_for(
        capped,
        session=session,
        sleep=sleep,
        retry=RetryPolicy(max_attempts=30),
        max_concurrency=4,
        per_page=20,
        **SMALL_LIMITS,
    )
    capped.reset_stats()

    ids = read_all(client)

    assert len(ids) == len(set(ids)) == 2_400
    usage = capped.stats["usage"]
    assert usage["concurrency_refusals"] > 0 and usage["peak_in_flight"] <= 2
    assert waits and all(w == 1.0 for w in waits)  # Zoho's Retry-After was honoured
    assert len(query_starts(session)) > 5  # windows, each restarting past its ceiling
    assert sum("page_token" in s.params for s in session.api()) > 0


def test_an_incremental_extract_asks_for_its_count_first_page_and_deletions_at_once(
    warehouse: Engine,
) -> None:
    """At Zoho's latency a small incremental read is mostly waiting: its count (to choose REST or
    Bulk Read), its first page and its recycle bin are asked for together, so the records are
    staged after one call's time instead of three."""
    start = NEXT.interval_start + timedelta(hours=1)
    knobs = {"latency_ms": 100, "jitter_ms": 0}
    with running_sandbox(accounts=30, contacts=0, deals=0, profile="zoho", knobs=knobs) as sb:
        client = client_for(sb, max_concurrency=4)
        prepare(warehouse, client, FULL)
        complete(warehouse, FULL)
        sb.set_clock(start)
        changed = [
            sb.store.upsert(ACCOUNTS, {"Account_Name": f"Changed {n}"})["id"] for n in range(5)
        ]
        sb.reset_stats()

        extract_module(warehouse, client, NEXT, ACCOUNTS)
        usage = sb.stats["usage"]

    assert usage["peak_in_flight"] == 3
    with warehouse.connect() as conn:
        staged = conn.execute(
            text("SELECT crm_id FROM books.stg_crm_records WHERE run_id = :r"), {"r": NEXT.run_id}
        ).scalars()
        assert set(changed) <= set(staged)
