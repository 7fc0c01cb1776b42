"""Incremental reads in concurrent Modified_Time windows, within the cap on calls in flight."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm_books.config import ACCOUNTS
from tests.integration.sandbox_client import Tap, api_requests, client_for, running_sandbox
from zoho_sandbox import SandboxServer

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
SMALL_LIMITS = {"discrete_page_limit": 60, "query_record_limit": 150}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    # Small paging limits so that windows cross both: page tokens after 60, restarts after 150.
    with running_sandbox(accounts=0, contacts=0, deals=0, **SMALL_LIMITS) as sb:
        yield sb


class InFlight(Tap):
    """A session recording requests and the most API calls it ever had in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0
        self.peak = 0
        self._lock = threading.Lock()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        api = "/crm/" in str(url)
        if api:
            with self._lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
        try:
            return super().request(method, url, *args, **kwargs)
        finally:
            if api:
                with self._lock:
                    self.now -= 1


def add_accounts(sb: SandboxServer, n: int, per_second: int) -> list[str]:
    """n accounts from T0 on, `per_second` sharing each Modified_Time (ties at window edges)."""
    ids = []
    for i in range(n):
        sb.set_clock(T0 + timedelta(seconds=i // per_second))
        ids.append(sb.store.upsert(ACCOUNTS, {"Account_Name": f"Company {i}"})["id"])
    return ids


def read(client: Any, since: datetime, until: datetime) -> list[str]:
    pages = client.iter_pages(ACCOUNTS, ["Account_Name"], modified_since=since, split_until=until)
    return [r["id"] for page in pages for r in page]


def small_client(sb: SandboxServer, session: Tap, cap: int) -> Any:
    return client_for(sb, session=session, per_page=20, max_concurrency=cap, **SMALL_LIMITS)


def test_concurrent_windows_read_every_id_exactly_once_within_the_cap(
    sandbox: SandboxServer,
) -> None:
    created = add_accounts(sandbox, 2400, per_second=3)  # 800 s of changes
    sandbox.set_faults(slow_seconds=0.01)  # answers take long enough for calls to overlap
    session = InFlight()
    client = small_client(sandbox, session, cap=3)

    ids = read(client, T0, T0 + timedelta(seconds=800))

    assert len(ids) == len(set(ids)) == 2400 and set(ids) == set(created)
    assert 2 <= session.peak <= 3  # concurrent, and never beyond the cap
    starts = {s.headers.get("if-modified-since") for s in session.api()}
    assert len(starts) > 6  # several windows, each restarting past its query ceiling
    assert sum("page_token" in s.params for s in session.api()) > 0
    assert api_requests(sandbox, "/crm/v8/Accounts", 400) == 0  # limits known, none hit


def test_two_readers_share_one_cap(sandbox: SandboxServer) -> None:
    # Both extract tasks (and the sensor) take their slots from one limiter per org and app.
    add_accounts(sandbox, 1200, per_second=2)
    sandbox.set_faults(slow_seconds=0.01)
    session = InFlight()
    readers = [small_client(sandbox, session, cap=2) for _ in range(2)]
    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda c=c: results.append(read(c, T0, T0 + timedelta(minutes=10))))
        for c in readers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert [len(set(r)) for r in results] == [1200, 1200]
    assert session.peak == 2


def test_a_quiet_interval_costs_one_call(sandbox: SandboxServer) -> None:
    add_accounts(sandbox, 10, per_second=1)
    session = InFlight()
    client = small_client(sandbox, session, cap=4)

    assert read(client, T0 + timedelta(days=1), T0 + timedelta(days=2)) == []  # 304
    assert len(read(client, T0, T0 + timedelta(days=1))) == 10  # one page, not cut up
    assert len(session.api()) == 2
    assert client.usage().api_calls == 2 and client.usage().api_credits == 2
