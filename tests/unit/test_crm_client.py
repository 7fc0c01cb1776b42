"""The Zoho client's pure parts: times, field chunks, backoff, answer classes, the hook's mapping.

No HTTP here: the sandbox (zoho_sandbox) is the one Zoho fake, and every test that needs an
answer over the wire runs against it in tests/integration/test_crm_client_*.py and
test_zoho_hook.py. The answers the sandbox cannot give (raw invalid UTF-8 bytes, a page without
`next_page_token`) are edited into its real answers there, by the client's session; the 403
scope errors it never sends are classified here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_books.zoho.auth import CrmCredentials
from crm_books.zoho.errors import Verdict, classify
from crm_books.zoho.paging import format_zoho_time, parse_zoho_time, split_fields
from crm_books.zoho.retry import RetryPolicy, backoff_delay, parse_retry_after

IST = timezone(timedelta(hours=5, minutes=30))


def _err(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "details": {}, "message": message, "status": "error"}


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


# --- what an answer means -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "authorized", "verdict"),
    [
        (200, {"data": []}, True, None),
        (200, {"error": "Access Denied"}, True, None),  # an API body, not the accounts server's
        (200, {"error": "Access Denied"}, False, Verdict.WAIT),  # accounts server throttling
        (200, {"error": "invalid_client"}, False, None),  # the token refresh reports it
        (429, _err("TOO_MANY_REQUESTS", "too many"), True, Verdict.RETRY),
        (503, None, True, Verdict.RETRY),
        (401, _err("INVALID_TOKEN", "invalid oauth token"), True, Verdict.REFRESH),
        (401, _err("INVALID_TOKEN", "invalid oauth token"), False, Verdict.FATAL),
        (401, _err("AUTHENTICATION_FAILURE", "failed"), True, Verdict.FATAL),
        (400, _err("INVALID_MODULE", "invalid module"), True, Verdict.FATAL),
    ],
)
def test_answers_are_classified_retry_refresh_or_fatal(
    status: int, body: Any, authorized: bool, verdict: Verdict | None
) -> None:
    failure = classify(status, body, authorized=authorized, retry_after=2.0)

    assert (failure.verdict if failure else None) == verdict
    if failure is not None and verdict is Verdict.RETRY:
        assert failure.retry_after == 2.0


@pytest.mark.parametrize(
    ("code", "hint"),
    [("OAUTH_SCOPE_MISMATCH", "ZohoCRM.modules.ALL"), ("NO_PERMISSION", "ZohoCRM.org.READ")],
)
def test_scope_errors_fail_fast_with_the_fix(code: str, hint: str) -> None:
    failure = classify(403, _err(code, "no"), authorized=True)

    assert failure is not None and failure.verdict is Verdict.FATAL
    error = failure.error("GET /crm/v8/Accounts")
    assert error.status == 403 and error.attempts == 1 and hint in str(error)


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


def test_hook_is_found_by_airflow_as_the_zoho_crm_connection_type() -> None:
    from crm_books.zoho.hook import ZohoCrmHook

    assert ZohoCrmHook.conn_name_attr == "zoho_crm_conn_id"
    assert ZohoCrmHook.default_conn_name == "zoho_crm"
    assert ZohoCrmHook.hook_name == "Zoho CRM"
    behaviour = ZohoCrmHook.get_ui_field_behaviour()
    assert behaviour["relabeling"]["password"] == "Client secret"
