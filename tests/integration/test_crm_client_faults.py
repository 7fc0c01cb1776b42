"""ZohoCrmClient against the sandbox's faults: tokens, retries, fail-fast errors and secrets."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from crm_books.config import ACCOUNTS, CONTACTS, MODULE_FIELDS
from crm_books.zoho.auth import CrmCredentials, ZohoAuthenticator
from crm_books.zoho.client import ZohoCrmClient
from crm_books.zoho.errors import CrmApiError
from crm_books.zoho.retry import RetryPolicy
from tests.integration.sandbox_client import (
    Sleeps,
    Tap,
    api_requests,
    client_for,
    credentials,
    read_ids,
    running_sandbox,
    token_calls,
)
from zoho_sandbox import SandboxServer


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    """A sandbox; tests pick sizes and limits with @pytest.mark.parametrize(indirect=True)."""
    with running_sandbox(**getattr(request, "param", {})) as sb:
        yield sb


def failures_5xx(sb: SandboxServer) -> int:
    return sum(n for status, n in sb.stats["by_status"].items() if status >= 500)


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
    tokens_before = token_calls(sandbox)
    sandbox.set_faults(token_ttl_seconds=1e-6)  # the sandbox now rejects the cached token

    with pytest.raises(CrmApiError, match="INVALID_TOKEN") as caught:
        ids += [r["id"] for page in pages for r in page]

    # One refresh was tried; the fresh token was rejected too, so the client stopped.
    assert token_calls(sandbox) == tokens_before + 1
    assert sandbox.stats["by_code"]["INVALID_TOKEN"] == 2
    assert caught.value.status == 401 and caught.value.code == "INVALID_TOKEN"
    assert "refresh token" in str(caught.value) and "accounts_url" in str(caught.value)


# --- configuration errors -------------------------------------------------------------------


def test_a_wrong_client_secret_fails_fast(sandbox: SandboxServer) -> None:
    sleeps = Sleeps()
    client = ZohoCrmClient(credentials(sandbox, secret="wrong"), sleep=sleeps)

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
    for secret in [*tokens, sandbox.client_secret, sandbox.refresh_token, "Zoho-oauthtoken"]:
        assert secret not in caplog.text


# --- tokens ---------------------------------------------------------------------------------


def test_access_token_is_cached_and_sent_as_zoho_oauthtoken(sandbox: SandboxServer) -> None:
    seen: list[str] = []
    tap = Tap()
    client = client_for(sandbox, session=tap, per_page=10, on_token=seen.append)

    read_ids(client, ACCOUNTS)
    client.organization()

    assert len(seen) == 1 and token_calls(sandbox) == 1
    assert {s.headers["authorization"] for s in tap.api()} == {f"Zoho-oauthtoken {seen[0]}"}


def test_token_is_refreshed_before_it_expires(sandbox: SandboxServer) -> None:
    sandbox.set_faults(token_ttl_seconds=1)  # refreshed a tenth of its lifetime before expiry
    client = client_for(sandbox)

    client.organization()
    time.sleep(1.0)
    client.organization()

    assert token_calls(sandbox) == 2
    assert "INVALID_TOKEN" not in sandbox.stats["by_code"]


def test_clients_sharing_an_authenticator_mint_one_token(sandbox: SandboxServer) -> None:
    first = client_for(sandbox)
    second = client_for(sandbox, authenticator=first.authenticator)

    first.organization()
    second.organization()
    assert token_calls(sandbox) == 1

    sandbox.set_faults(token_ttl_seconds=1)
    time.sleep(1.1)  # the shared token expires on the server
    first.organization()  # rejected, refreshed once
    second.organization()  # uses the token the first client just got

    assert token_calls(sandbox) == 2
    assert sandbox.stats["by_code"] == {"INVALID_TOKEN": 1}


def test_a_rejected_token_already_replaced_is_not_dropped(sandbox: SandboxServer) -> None:
    auth = ZohoAuthenticator(credentials(sandbox), client_for(sandbox).transport)
    old = auth.token()
    auth.invalidate(old)
    new = auth.token()

    auth.invalidate(old)  # a late report about the old token, from another client

    assert auth.token() == new != old and token_calls(sandbox) == 2


# --- retries --------------------------------------------------------------------------------


def test_server_errors_are_retried_with_jittered_backoff(sandbox: SandboxServer) -> None:
    sandbox.set_faults(error_rate=1.0)
    sleeps = Sleeps(then=lambda n: n == 3 and sandbox.set_faults())  # healthy after 3 failures
    client = client_for(sandbox, sleep=sleeps, retry=RetryPolicy(base_delay=0.5, max_delay=30))

    assert client.organization()["id"] == "sandbox-org-1"
    assert len(sleeps) == 3 and api_requests(sandbox, "/crm/v8/org", 200) == 1
    assert all(0 <= s <= 0.5 * 2**i for i, s in enumerate(sleeps))


def test_timeouts_are_retried(sandbox: SandboxServer) -> None:
    sandbox.set_faults(slow_seconds=1.0)
    sleeps = Sleeps(then=lambda n: sandbox.set_faults())  # fast again after the first timeout
    client = client_for(sandbox, sleep=sleeps, timeout=0.3)

    assert client.organization()["id"] == "sandbox-org-1"
    assert len(sleeps) == 1


def test_retries_are_bounded_by_attempts(sandbox: SandboxServer) -> None:
    sandbox.set_faults(error_rate=1.0)
    sleeps = Sleeps()
    client = client_for(sandbox, sleep=sleeps, retry=RetryPolicy(max_attempts=4))

    with pytest.raises(CrmApiError, match="gave up after 4 attempts") as caught:
        client.organization()

    assert caught.value.status in {500, 502, 503} and caught.value.attempts == 4
    assert failures_5xx(sandbox) == 4 and len(sleeps) == 3


def test_retries_are_bounded_by_total_time(sandbox: SandboxServer) -> None:
    sandbox.set_faults(rate_limit_every=1, retry_after_seconds=120)
    client = client_for(sandbox, retry=RetryPolicy(max_total_seconds=60))

    with pytest.raises(CrmApiError, match="gave up after 1 attempts") as caught:
        client.organization()

    assert "API credits" in str(caught.value)
    assert sandbox.stats["by_status"][429] == 1


def test_an_unreachable_host_is_retried_then_named(sandbox: SandboxServer) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    sleeps = Sleeps()
    creds = CrmCredentials(
        dead, sandbox.accounts_url, sandbox.client_id, sandbox.client_secret, sandbox.refresh_token
    )
    client = ZohoCrmClient(creds, sleep=sleeps, retry=RetryPolicy(max_attempts=3))

    with pytest.raises(CrmApiError, match=r"CONNECTION_ERROR.*gave up after 3 attempts") as caught:
        client.organization()

    assert "reachable" in str(caught.value) and len(sleeps) == 2


def test_revoked_refresh_token_fails_fast(sandbox: SandboxServer) -> None:
    creds = CrmCredentials(
        sandbox.base_url, sandbox.accounts_url, sandbox.client_id, sandbox.client_secret, "revoked"
    )
    sleeps = Sleeps()
    client = ZohoCrmClient(creds, sleep=sleeps)

    with pytest.raises(CrmApiError, match=r"invalid_code.*refresh token"):
        client.organization()
    assert sandbox.stats["total"] == 1 and sleeps == []
