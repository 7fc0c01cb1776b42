"""Zoho CRM API errors: what a failed answer means (retry, refresh, fatal) and its likely fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from crm_books.zoho.endpoints import (
    ACCESS_DENIED,
    INVALID_OAUTHTOKEN,
    INVALID_TOKEN,
    REQUIRED_SCOPES,
)

REFRESH_CODES = {INVALID_TOKEN, INVALID_OAUTHTOKEN}


class CrmApiError(RuntimeError):
    """A Zoho CRM call failed; `str()` says what happened and the likely fix."""

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        *,
        fix: str | None = None,
        attempts: int = 1,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.fix = fix if fix is not None else likely_fix(status, code, message)
        self.attempts = attempts
        super().__init__(str(self))

    def __str__(self) -> str:
        status = f"HTTP {self.status} " if self.status is not None else ""
        return f"Zoho CRM {status}{self.code}: {self.message}. Likely fix: {self.fix}"


def likely_fix(status: int | None, code: str, message: str = "") -> str:
    """The configuration change most likely to cure an error, in words an operator can act on."""
    upper = code.upper()
    if upper in {"OAUTH_SCOPE_MISMATCH", "NO_PERMISSION"}:
        return (
            f"grant the OAuth client the scopes {REQUIRED_SCOPES} and generate a new refresh "
            "token; the CRM user also needs read permission on the module"
        )
    if upper == "INVALID_MODULE":
        return "use a module API name the org has: Accounts, Contacts or Deals (case-sensitive)"
    if upper == "INVALID_DATA":
        return (
            "check the field API names asked for (case-sensitive, e.g. Account_Name) against "
            "the module's fields in CRM Setup > Developer Hub > APIs; also check the values sent"
        )
    if upper in {"INVALID_CLIENT", "INVALID_CLIENT_SECRET", "UNAUTHORIZED_CLIENT"}:
        return (
            "check the zoho_crm connection's login (client id) and password (client secret), and "
            "that extra.accounts_url is the data centre where the client was registered "
            "(accounts.zoho.com, .eu, .in, .com.au, .jp, .ca, .sa)"
        )
    if upper in {"INVALID_CODE", "INVALID_TOKEN", "AUTHENTICATION_FAILURE"} or status == 401:
        return (
            "check the zoho_crm connection's refresh token (extra.refresh_token; it may be revoked), "
            "client id and secret, and that extra.accounts_url and the host are the org's data "
            "centre (e.g. accounts.zoho.eu with www.zohoapis.eu)"
        )
    if upper in {"INVALID_URL_PATTERN", "NOT_FOUND"} or status == 404:
        return (
            "check the zoho_crm connection's host: the API base URL, e.g. https://www.zohoapis.com"
        )
    if upper in {"FEATURE_NOT_SUPPORTED", "NOT_SUPPORTED", "NOT_ALLOWED"}:
        return "the org's Zoho CRM edition or settings do not allow this call"
    if upper == "CONNECTION_ERROR":
        return "check that the zoho_crm host and accounts_url are reachable from the worker"
    if status == 429 or upper in {"TOO_MANY_REQUESTS", "ACCESS DENIED"}:
        return "the org is out of API credits or concurrency; run later or lower concurrency"
    if status is not None and status >= 500:
        return "Zoho is failing on its side; retry the task later"
    return "read the message above; it comes from Zoho"


def error_from_body(status: int, body: Any) -> tuple[str, str, Any]:
    """(code, message, details) from Zoho's error envelopes, including the accounts server's."""
    if isinstance(body, dict):
        data = body.get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict) and "code" in data[0]:
            body = data[0]
        if "code" in body:
            return str(body["code"]), str(body.get("message", "")), body.get("details")
        if "error" in body:
            return str(body["error"]), str(body.get("error_description", body["error"])), None
    return f"HTTP_{status}", "unexpected response body", None


class Verdict(Enum):
    """What the caller should do about a failed answer."""

    RETRY = "retry"  # 429, 5xx, network failure
    REFRESH = "refresh"  # 401 INVALID_TOKEN: a fresh access token may cure it
    WAIT = "wait"  # the accounts server's "Access Denied": the token store waits out its window
    FATAL = "fatal"  # any other 4xx: configuration, which no retry can fix


@dataclass(frozen=True)
class Failure:
    """One failed answer from Zoho, classified."""

    verdict: Verdict
    status: int | None
    code: str
    message: str
    retry_after: float | None = None

    def error(self, request: str) -> CrmApiError:
        """The error for a failure not worth retrying; `request` is e.g. `GET /crm/v8/org`."""
        return CrmApiError(self.status, self.code, f"{request}: {self.message}")

    def gave_up(self, request: str, attempts: int, elapsed: float) -> CrmApiError:
        """The error once the retry budget is spent."""
        return CrmApiError(
            self.status,
            self.code,
            f"{request} gave up after {attempts} attempts in {elapsed:.1f}s; "
            f"last error: {self.message}",
            attempts=attempts,
        )


def classify(
    status: int, body: Any, *, authorized: bool, retry_after: float | None = None
) -> Failure | None:
    """None when the answer is usable, else what failed and whether a retry or refresh may help.

    :param status: the HTTP status.
    :param body: the decoded JSON body (None when there was none or it was not JSON).
    :param authorized: the call carried an access token (API calls, not the token endpoint).
    :param retry_after: seconds from the `Retry-After` header, honoured for retryable failures.
    """
    # The accounts server answers throttling with HTTP 200 and {"error": "Access Denied"}.
    throttled = not authorized and isinstance(body, dict) and _throttled(body)
    if status < 400 and not throttled:
        return None
    code, message, details = error_from_body(status, body)
    if details:
        message = f"{message} ({details})"
    if throttled:  # retrying at once would only be refused again: see ZohoAuthenticator
        return Failure(Verdict.WAIT, status, code, message)
    if status == 401 and authorized and code in REFRESH_CODES:
        return Failure(Verdict.REFRESH, status, code, message)
    if status == 429 or status >= 500:
        return Failure(Verdict.RETRY, status, code, message, retry_after)
    return Failure(Verdict.FATAL, status, code, message)


def network_failure(exc: Exception) -> Failure:
    """A connection error or timeout: retryable, named in the message."""
    return Failure(
        Verdict.RETRY, None, "CONNECTION_ERROR", f"{type(exc).__name__}: {str(exc)[:300]}"
    )


def _throttled(body: dict[str, Any]) -> bool:
    return body.get("error") == ACCESS_DENIED
