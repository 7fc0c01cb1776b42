"""ZohoCrmClient against the sandbox CRM over loopback HTTP: whole reads, increments, faults."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm_books.config import ACCOUNTS, CONTACTS, DEALS, MODULE_FIELDS
from crm_books.zoho.auth import CrmCredentials
from crm_books.zoho.client import ZohoCrmClient
from crm_books.zoho.errors import CrmApiError
from crm_books.zoho.retry import RetryPolicy
from zoho_sandbox import SandboxConfig, SandboxServer

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class Sleeps(list[float]):
    """Records the waits the client asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    """A sandbox; tests pick sizes and limits with @pytest.mark.parametrize(indirect=True)."""
    options: dict[str, Any] = {"accounts": 100, "contacts": 300, "deals": 50}
    options.update(getattr(request, "param", {}))
    with SandboxServer(SandboxConfig(seed=7, **options)) as sb:
        yield sb


def client_for(sb: SandboxServer, **options: Any) -> ZohoCrmClient:
    creds = CrmCredentials(
        sb.base_url, sb.accounts_url, sb.client_id, sb.client_secret, sb.refresh_token
    )
    options.setdefault("sleep", Sleeps())
    options.setdefault("timeout", 10.0)
    return ZohoCrmClient(creds, **options)


def read_ids(client: ZohoCrmClient, module: str, **kw: Any) -> list[str]:
    return [
        r["id"] for page in client.iter_pages(module, MODULE_FIELDS[module], **kw) for r in page
    ]


def api_requests(sb: SandboxServer, path_part: str, status: int) -> int:
    return sum(
        n
        for key, n in sb.stats["by_request"].items()
        if path_part in key and key.endswith(f" {status}")
    )


@pytest.mark.parametrize("sandbox", [{"accounts": 2600}], indirect=True)
def test_a_module_past_the_page_limit_is_read_whole_and_once(sandbox: SandboxServer) -> None:
    client = client_for(sandbox)

    ids = read_ids(client, ACCOUNTS)

    assert len(ids) == sandbox.store.count(ACCOUNTS) == 2600
    assert len(set(ids)) == len(ids)
    assert "DISCRETE_PAGINATION_LIMIT_EXCEEDED" not in sandbox.stats["by_code"]
    assert api_requests(sandbox, "/crm/v8/Accounts", 200) == 13  # 2600 / 200, no retries


@pytest.mark.parametrize(
    "sandbox",
    [{"accounts": 1200, "discrete_page_limit": 200, "query_record_limit": 500}],
    indirect=True,
)
def test_more_records_than_the_query_ceiling_restart_from_last_modified_time(
    sandbox: SandboxServer,
) -> None:
    # Ties at the restart points: 4 batches of 120 records each share one Modified_Time.
    sandbox.set_clock(T0)
    for batch in range(4):
        for i in range(120):
            sandbox.store.upsert(ACCOUNTS, {"Account_Name": f"Tied {batch}-{i}"})
        sandbox.advance_clock(timedelta(seconds=1))
    client = client_for(sandbox, per_page=100, discrete_page_limit=200, query_record_limit=500)

    ids = read_ids(client, ACCOUNTS)

    assert len(ids) == sandbox.store.count(ACCOUNTS) == 1680
    assert len(set(ids)) == len(ids)
    assert api_requests(sandbox, "/crm/v8/Accounts", 400) == 0  # limits known, none hit


@pytest.mark.parametrize(
    "sandbox",
    [{"contacts": 900, "discrete_page_limit": 200, "query_record_limit": 300}],
    indirect=True,
)
def test_a_client_unaware_of_the_limits_still_reads_everything_once(
    sandbox: SandboxServer,
) -> None:
    client = client_for(sandbox)  # Zoho's default limits, larger than the sandbox's

    ids = read_ids(client, CONTACTS)

    assert len(ids) == sandbox.store.count(CONTACTS) == 900
    assert len(set(ids)) == len(ids)
    assert sandbox.stats["by_code"].get("DISCRETE_PAGINATION_LIMIT_EXCEEDED", 0) >= 4


def test_incremental_read_returns_what_changed_since(sandbox: SandboxServer) -> None:
    client = client_for(sandbox)
    before = read_ids(client, DEALS)
    sandbox.set_clock(datetime(2030, 1, 1, tzinfo=UTC))
    changed = sandbox.store.upsert(DEALS, {"id": before[0], "Amount": 999.5})
    created = sandbox.store.upsert(DEALS, {"Deal_Name": "New deal", "Stage": "Qualification"})

    since = datetime(2030, 1, 1, tzinfo=UTC)
    pages = list(client.iter_pages(DEALS, MODULE_FIELDS[DEALS], modified_since=since))

    got = {r["id"]: r for page in pages for r in page}
    assert set(got) == {changed["id"], created["id"]}
    assert got[changed["id"]]["Amount"] == 999.5
    later = since + timedelta(hours=1)
    assert list(client.iter_pages(DEALS, MODULE_FIELDS[DEALS], modified_since=later)) == []
    assert api_requests(sandbox, "/crm/v8/Deals", 304) == 1


def test_deleted_records_are_listed_with_their_time(sandbox: SandboxServer) -> None:
    client = client_for(sandbox, per_page=2)
    already = {r["id"] for page in client.iter_deleted(ACCOUNTS) for r in page}
    ids = read_ids(client, ACCOUNTS)[:5]
    deleted_at = datetime(2031, 1, 1, tzinfo=UTC)  # after anything the generator deleted
    sandbox.set_clock(deleted_at)
    for record_id in ids[:3]:
        sandbox.store.delete(ACCOUNTS, record_id)
    sandbox.set_clock(deleted_at + timedelta(days=1))
    for record_id in ids[3:]:
        sandbox.store.delete(ACCOUNTS, record_id)

    everything = [r for page in client.iter_deleted(ACCOUNTS) for r in page]
    since = deleted_at + timedelta(hours=1)
    recent = [r for page in client.iter_deleted(ACCOUNTS, deleted_since=since) for r in page]

    assert sorted(r["id"] for r in everything) == sorted(already | set(ids))
    assert sorted(r["id"] for r in recent) == sorted(ids[3:])
    assert [datetime.fromisoformat(r["deleted_time"]) for r in recent] == [
        since + timedelta(hours=23)
    ] * 2
    assert set(read_ids(client, ACCOUNTS)).isdisjoint(ids)


def test_organization_and_product_fields_exist(sandbox: SandboxServer) -> None:
    client = client_for(sandbox)

    assert client.organization()["id"] == "sandbox-org-1"
    for module, fields in MODULE_FIELDS.items():
        client.check_fields(module, fields)
    with pytest.raises(CrmApiError, match="Contacts has no field named Emial"):
        client.check_fields(CONTACTS, ["Email", "Emial"])


# --- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sandbox", [{"accounts": 1000}], indirect=True)
def test_rate_limits_are_survived_waiting_retry_after(sandbox: SandboxServer) -> None:
    sandbox.set_faults(rate_limit_every=3, retry_after_seconds=2)
    sleeps = Sleeps()
    client = client_for(sandbox, sleep=sleeps)

    ids = read_ids(client, ACCOUNTS)

    assert len(set(ids)) == len(ids) == 1000
    throttled = sandbox.stats["by_status"][429]
    assert throttled >= 2 and sleeps == [2.0] * throttled
    assert api_requests(sandbox, "/crm/v8/Accounts", 200) == 5


@pytest.mark.parametrize("sandbox", [{"accounts": 3000}], indirect=True)
def test_server_errors_are_survived_with_one_retry_each(sandbox: SandboxServer) -> None:
    sandbox.set_faults(error_rate=0.3, seed=11)
    sleeps = Sleeps()
    client = client_for(sandbox, sleep=sleeps, retry=RetryPolicy(max_attempts=10))

    ids = read_ids(client, ACCOUNTS)

    assert len(set(ids)) == len(ids) == 3000
    failures = sum(n for status, n in sandbox.stats["by_status"].items() if status >= 500)
    assert failures >= 2 and len(sleeps) == failures
    assert all(s <= 30.0 for s in sleeps)


def test_an_expired_token_is_refreshed_once_and_the_read_goes_on(sandbox: SandboxServer) -> None:
    sleeps = Sleeps()
    client = client_for(sandbox, per_page=50, sleep=sleeps)
    pages = client.iter_pages(CONTACTS, MODULE_FIELDS[CONTACTS])
    ids = [r["id"] for r in next(pages)]
    sandbox.set_faults(token_ttl_seconds=1)  # tokens now live 1 s: the cached one has expired
    time.sleep(1.1)

    ids += [r["id"] for page in pages for r in page]

    assert len(set(ids)) == len(ids) == 300
    assert sandbox.stats["by_code"] == {"INVALID_TOKEN": 1}
    assert sandbox.stats["by_path"]["/oauth/v2/token"] == 2
    assert api_requests(sandbox, "/crm/v8/Contacts", 200) == 6 and sleeps == []


def test_expired_tokens_mid_read_cost_one_refresh_each(sandbox: SandboxServer) -> None:
    client = client_for(sandbox, per_page=50)
    pages = client.iter_pages(CONTACTS, MODULE_FIELDS[CONTACTS])
    ids = [r["id"] for r in next(pages)]
    token_calls = sandbox.stats["by_path"]["/oauth/v2/token"]
    sandbox.set_faults(token_ttl_seconds=1e-6)  # the sandbox now rejects the cached token

    with pytest.raises(CrmApiError, match="INVALID_TOKEN") as caught:
        ids += [r["id"] for page in pages for r in page]

    # One refresh was tried; the fresh token was rejected too, so the client stopped.
    assert sandbox.stats["by_path"]["/oauth/v2/token"] == token_calls + 1
    assert sandbox.stats["by_code"]["INVALID_TOKEN"] == 2
    assert "refresh token" in str(caught.value)


# --- configuration errors -------------------------------------------------------------------


def test_a_wrong_client_secret_fails_fast(sandbox: SandboxServer) -> None:
    creds = CrmCredentials(
        sandbox.base_url, sandbox.accounts_url, sandbox.client_id, "wrong", sandbox.refresh_token
    )
    sleeps = Sleeps()
    client = ZohoCrmClient(creds, sleep=sleeps)

    with pytest.raises(CrmApiError, match="invalid_client") as caught:
        list(client.iter_pages(ACCOUNTS, MODULE_FIELDS[ACCOUNTS]))

    assert "client secret" in str(caught.value) and "accounts_url" in str(caught.value)
    assert sandbox.stats["total"] == 1 and sleeps == []


@pytest.mark.parametrize(
    ("module", "fields", "code", "hint"),
    [
        ("Potentials", ["Deal_Name"], "INVALID_MODULE", "module API name"),
        (ACCOUNTS, ["Account_Name", "Acount_Nmae"], "INVALID_DATA", "field API names"),
    ],
)
def test_a_bad_module_or_field_fails_fast_naming_the_fix(
    sandbox: SandboxServer, module: str, fields: list[str], code: str, hint: str
) -> None:
    sleeps = Sleeps()
    client = client_for(sandbox, sleep=sleeps)

    with pytest.raises(CrmApiError, match=hint) as caught:
        list(client.iter_pages(module, fields))

    assert caught.value.code == code and caught.value.status == 400
    assert sandbox.stats["by_status"] == {200: 1, 400: 1} and sleeps == []  # token, one call


def test_the_access_token_never_appears_in_logs(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens: list[str] = []
    sandbox.set_faults(rate_limit_every=4, retry_after_seconds=0)
    client = client_for(sandbox, per_page=40, on_token=tokens.append)

    pages = client.iter_pages(CONTACTS, MODULE_FIELDS[CONTACTS])
    next(pages)
    sandbox.set_faults(rate_limit_every=4, retry_after_seconds=0, token_ttl_seconds=1)
    time.sleep(1.1)  # the cached token expires on the server
    list(pages)
    with pytest.raises(CrmApiError):
        list(client.iter_pages("Nope", ["x"]))

    assert sandbox.stats["by_code"]["INVALID_TOKEN"] == 1
    assert sandbox.stats["by_code"]["TOO_MANY_REQUESTS"] >= 1
    assert len(tokens) >= 2 and "Read 300 Contacts records" in caplog.text
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    for secret in [*tokens, sandbox.client_secret, sandbox.refresh_token]:
        assert secret not in caplog.text


def test_the_hook_reads_the_sandbox_from_the_zoho_crm_connection(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_books.zoho.hook import ZohoCrmHook

    host, port = sandbox.base_url.removeprefix("http://").split(":")
    conn = {
        "conn_type": "http",
        "host": host,
        "schema": "http",
        "port": int(port),
        "login": sandbox.client_id,
        "password": sandbox.client_secret,
        "extra": {"refresh_token": sandbox.refresh_token, "accounts_url": sandbox.accounts_url},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ZOHO_CRM", json.dumps(conn))

    client = ZohoCrmHook().get_client()

    assert client.organization()["company_name"] == "Sandbox Org"
    assert len(read_ids(client, ACCOUNTS)) == 100
