"""OAuth for the Zoho CRM API: the credentials, and the access token refreshed from them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from crm_books.zoho.endpoints import TOKEN_PATH
from crm_books.zoho.errors import CrmApiError, error_from_body

if TYPE_CHECKING:
    from crm_books.zoho.transport import Transport

log = logging.getLogger(__name__)

# Refresh this long before Zoho's `expires_in`, so a token never expires mid-request.
TOKEN_REFRESH_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class CrmCredentials:
    """Where the CRM is and the OAuth client that reads it (never logged)."""

    api_base_url: str
    accounts_url: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)


class TokenSource(Protocol):
    """Hands out access tokens; what a client needs from an authenticator."""

    def token(self) -> str:
        """A valid access token, refreshed first when there is none or it is about to expire."""
        ...

    def invalidate(self, token: str) -> None:
        """Forget `token` (Zoho rejected it), so the next `token()` refreshes."""
        ...


class ZohoAuthenticator:
    """Holds one access token for a set of credentials and refreshes it when due.

    Thread-safe, so several clients (or threads) can share one instance and mint one token
    between them instead of one each.

    :param credentials: the OAuth client and refresh token, and the accounts server's URL.
    :param transport: sends the refresh request (with the transport's retries).
    :param on_token: called with each new access token before it is used, e.g. Airflow's
        `mask_secret`, so no log line can show it.
    """

    def __init__(
        self,
        credentials: CrmCredentials,
        transport: Transport,
        *,
        on_token: Callable[[str], object] | None = None,
    ) -> None:
        self.credentials = credentials
        self.transport = transport
        self.on_token = on_token
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        """A valid access token, refreshed first when there is none or it is about to expire."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._token, self._expires_at = self._refresh()
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` (Zoho rejected it), unless another caller has already replaced it."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _refresh(self) -> tuple[str, float]:
        """A new access token and the monotonic time to refresh it at."""
        creds = self.credentials
        form = {
            "grant_type": "refresh_token",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "refresh_token": creds.refresh_token,
        }
        url = creds.accounts_url.rstrip("/") + TOKEN_PATH
        body = self.transport.call("POST", url, data=form) or {}
        if "access_token" not in body:
            # Zoho's accounts server refuses with HTTP 200 and {"error": ...}.
            code, message, _ = error_from_body(200, body)
            raise CrmApiError(200, code, f"token refresh refused: {message}")
        token = str(body["access_token"])
        if self.on_token is not None:
            self.on_token(token)  # mask before anything could log it
        lifetime = float(body.get("expires_in", 3600))
        margin = min(TOKEN_REFRESH_MARGIN_SECONDS, lifetime / 10)
        log.debug("Refreshed the Zoho access token (valid for %.0fs)", lifetime)
        return token, time.monotonic() + lifetime - margin
