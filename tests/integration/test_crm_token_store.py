"""One Zoho access token for everyone: the warehouse token store on SQLite and PostgreSQL, with
the sandbox's token endpoint counting grants."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text

from crm_books.zoho.auth import DenialPolicy
from crm_books.zoho.client import ZohoCrmClient
from crm_books.zoho.errors import CrmApiError
from crm_books.zoho.token_store import Cipher, WarehouseTokenStore, airflow_cipher
from tests.integration.sandbox_client import client_for, credentials, running_sandbox, token_calls
from zoho_sandbox import SandboxServer

FAST_DENIAL = DenialPolicy(wait_seconds=0.2, max_wait_seconds=1.5)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox(accounts=30, contacts=0, deals=0) as sb:
        yield sb


@pytest.fixture
def cipher(monkeypatch: pytest.MonkeyPatch) -> Cipher:
    """Airflow's own Fernet, with a key configured as [core] fernet_key."""
    from airflow.models.crypto import get_fernet

    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    get_fernet.cache_clear()
    yield airflow_cipher()
    get_fernet.cache_clear()


def shared_client(sb: SandboxServer, warehouse: Engine, cipher: Cipher, **options: Any) -> Any:
    """A client as a new task process builds it: its own store object on the shared table."""
    store = WarehouseTokenStore(warehouse, credentials(sb), cipher=cipher)
    return client_for(sb, token_store=store, **options)


class DeniedGrants(requests.Session):
    """Answers the first `denials` token requests as Zoho's accounts server does when too many
    grants were asked for (HTTP 200, "Access Denied"), without reaching the sandbox."""

    def __init__(self, denials: int) -> None:
        super().__init__()
        self.denials = denials
        self.token_requests = 0
        self._lock = threading.Lock()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if str(url).endswith("/oauth/v2/token"):
            with self._lock:
                self.token_requests += 1
                deny = self.token_requests <= self.denials
            if deny:
                response = requests.Response()
                response.status_code = 200
                response._content = json.dumps({"error": "Access Denied"}).encode()
                return response
        return super().request(method, url, *args, **kwargs)


def test_every_client_shares_one_grant_and_the_store_keeps_it_encrypted(
    sandbox: SandboxServer, warehouse: Engine, cipher: Cipher
) -> None:
    seen: list[str] = []
    first = shared_client(sandbox, warehouse, cipher, on_token=seen.append)
    first.organization()
    for _ in range(5):  # later tasks and pokes: new clients, new store objects
        shared_client(sandbox, warehouse, cipher, on_token=seen.append).organization()

    assert token_calls(sandbox) == 1
    assert len(seen) == 6 and len(set(seen)) == 1  # a token read from the store is masked too
    with warehouse.connect() as conn:
        row = conn.execute(
            text("SELECT access_token, encrypted, grants FROM books.crm_access_tokens")
        ).one()
    assert bool(row.encrypted) and row.grants == 1
    assert seen[0] not in row.access_token
    assert cipher.decrypt(row.access_token.encode()).decode() == seen[0]


def test_concurrent_tasks_refresh_once(
    sandbox: SandboxServer, warehouse: Engine, cipher: Cipher
) -> None:
    sandbox.set_faults(slow_seconds=0.05)  # a slow grant: the others queue on the lock
    clients = [shared_client(sandbox, warehouse, cipher) for _ in range(6)]
    threads = [threading.Thread(target=c.organization) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert token_calls(sandbox) == 1
    assert sandbox.stats["by_path"]["/crm/v8/org"] == 6


def test_a_token_killed_elsewhere_is_refreshed_once_through_the_store(
    sandbox: SandboxServer, warehouse: Engine, cipher: Cipher
) -> None:
    first = shared_client(sandbox, warehouse, cipher)
    second = shared_client(sandbox, warehouse, cipher)
    first.organization()
    second.organization()  # both now hold the same token in memory
    sandbox.set_faults(token_ttl_seconds=1)
    time.sleep(1.1)  # the server no longer accepts it

    first.organization()  # INVALID_TOKEN: dropped from the store, one new grant stored
    second.organization()  # INVALID_TOKEN too: takes the token the first one stored

    assert token_calls(sandbox) == 2
    assert sandbox.stats["by_code"] == {"INVALID_TOKEN": 2}


def test_access_denied_is_waited_out_not_multiplied(
    sandbox: SandboxServer, warehouse: Engine, cipher: Cipher
) -> None:
    session = DeniedGrants(denials=2)
    store = WarehouseTokenStore(warehouse, credentials(sandbox), cipher=cipher)
    client = ZohoCrmClient(
        credentials(sandbox), session=session, token_store=store, denial=FAST_DENIAL
    )
    late = shared_client(
        sandbox, warehouse, cipher, denial=FAST_DENIAL, session=session, sleep=time.sleep
    )

    started = time.monotonic()
    results: list[Any] = []
    other = threading.Thread(target=lambda: (time.sleep(0.05), results.append(late.organization())))
    other.start()
    assert client.organization()["id"] == "sandbox-org-1"
    other.join(timeout=30)

    assert results and results[0]["id"] == "sandbox-org-1"
    # Two refusals, then one grant: the second client waited for the window instead of asking.
    assert session.token_requests == 3 and token_calls(sandbox) == 1
    assert time.monotonic() - started >= 2 * FAST_DENIAL.wait_seconds


def test_access_denied_for_too_long_fails_naming_the_fix(
    sandbox: SandboxServer, warehouse: Engine, cipher: Cipher
) -> None:
    session = DeniedGrants(denials=1000)
    client = shared_client(
        sandbox, warehouse, cipher, denial=FAST_DENIAL, session=session, sleep=time.sleep
    )

    with pytest.raises(CrmApiError, match="Access Denied") as caught:
        client.organization()

    asks = FAST_DENIAL.max_wait_seconds / FAST_DENIAL.wait_seconds
    assert 2 <= session.token_requests <= asks + 1  # one ask per window, bounded
    assert "refresh token" in str(caught.value)
