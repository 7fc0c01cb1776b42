"""ZohoCrmHook on the sandbox: the client from the `zoho_crm` connection, and the UI's Test button."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from crm_books.config import ACCOUNTS
from crm_books.zoho.hook import CrmConnectionError, ZohoCrmHook
from tests.integration.sandbox_client import Tap, read_ids, running_sandbox
from zoho_sandbox import SandboxServer


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as sb:
        yield sb


def use_connection(
    monkeypatch: pytest.MonkeyPatch, sb: SandboxServer, conn_id: str = "zoho_crm", **overrides: Any
) -> None:
    """Point connection `conn_id` at the sandbox (host, schema and port apart, as users write it)."""
    host, port = sb.base_url.removeprefix("http://").split(":")
    conn: dict[str, Any] = {
        "conn_type": "http",
        "host": host,
        "schema": "http",
        "port": int(port),
        "login": sb.client_id,
        "password": sb.client_secret,
        "extra": {"refresh_token": sb.refresh_token, "accounts_url": sb.accounts_url},
        **overrides,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_the_hook_reads_the_sandbox_from_the_zoho_crm_connection(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, sandbox)

    client = ZohoCrmHook().get_client()

    assert client.organization()["company_name"] == "Sandbox Org"
    assert len(read_ids(client, ACCOUNTS)) == 100


def test_hook_client_masks_every_new_token(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    use_connection(monkeypatch, sandbox, "zoho_crm_unit")
    tap = Tap()

    client = ZohoCrmHook(zoho_crm_conn_id="zoho_crm_unit").get_client(session=tap)
    client.organization()

    token = tap.api()[0].headers["authorization"].removeprefix("Zoho-oauthtoken ")
    assert redact(f"token={token}") == "token=***"
    assert redact(f"refresh={sandbox.refresh_token}") == "refresh=***"


def test_test_connection_names_the_organisation(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, sandbox)

    assert ZohoCrmHook().test_connection() == (
        True,
        "Connected to Zoho CRM organisation Sandbox Org (sandbox-org-1)",
    )


def test_test_connection_with_a_wrong_secret_says_what_to_fix(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, sandbox, password="wrong")

    ok, message = ZohoCrmHook().test_connection()

    assert ok is False
    assert "invalid_client" in message and "Likely fix" in message
    assert "client secret" in message and "accounts_url" in message
    assert sandbox.stats["total"] == 1  # refused at once, not retried


def test_test_connection_names_a_missing_field(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, sandbox, extra={"accounts_url": sandbox.accounts_url})

    ok, message = ZohoCrmHook().test_connection()

    assert ok is False and "refresh_token" in message
    assert sandbox.stats["total"] == 0


@pytest.mark.parametrize("value", ["four", 0, 2.5])
def test_a_bad_max_concurrency_names_the_extra_and_the_caps(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, value: Any
) -> None:
    extra = {"refresh_token": sandbox.refresh_token, "max_concurrency": value}
    use_connection(monkeypatch, sandbox, extra=extra)

    ok, message = ZohoCrmHook().test_connection()

    assert ok is False and "max_concurrency" in message and "Standard 10" in message
    assert sandbox.stats["total"] == 0


def test_the_max_concurrency_extra_sets_the_cap(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = {"refresh_token": sandbox.refresh_token, "accounts_url": sandbox.accounts_url}
    use_connection(monkeypatch, sandbox, extra={**extra, "max_concurrency": "7"})
    assert ZohoCrmHook().get_client().max_concurrency == 7
    use_connection(monkeypatch, sandbox, extra=extra)
    assert ZohoCrmHook().get_client().max_concurrency == 4


def test_test_connection_to_a_failing_crm_answers_within_seconds(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.set_faults(error_rate=1.0)
    use_connection(monkeypatch, sandbox)

    ok, message = ZohoCrmHook().test_connection()

    assert ok is False and "gave up after 2 attempts" in message
    assert "retry the task later" in message


def test_the_bulk_read_threshold_extra_reaches_the_client(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = {"refresh_token": sandbox.refresh_token, "accounts_url": sandbox.accounts_url}
    use_connection(monkeypatch, sandbox, extra={**extra, "bulk_read_threshold": 0})
    assert ZohoCrmHook().get_client().bulk_read_threshold == 0
    use_connection(monkeypatch, sandbox, extra={**extra, "bulk_read_threshold": None})
    assert ZohoCrmHook().get_client().bulk_read_threshold is None
    use_connection(monkeypatch, sandbox, extra=extra)
    assert ZohoCrmHook().get_client().bulk_read_threshold == 50_000
    use_connection(monkeypatch, sandbox, extra={**extra, "bulk_read_threshold": "lots"})
    with pytest.raises(CrmConnectionError, match="bulk_read_threshold"):
        ZohoCrmHook().get_client()
