"""The OAuth side: Zoho's refresh-token grant at /oauth/v2/token, and the check of API tokens."""

from __future__ import annotations

import secrets
import threading
import time
from urllib.parse import parse_qs

from zoho_sandbox.errors import ApiError
from zoho_sandbox.messages import Request, Response

TOKEN_PATH = "/oauth/v2/token"
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
REFRESH_TOKEN = "sandbox-refresh"
SCOPE = "ZohoCRM.modules.ALL ZohoCRM.settings.ALL ZohoCRM.org.READ"
_PREFIX = "Zoho-oauthtoken "


class TokenIssuer:
    """Grants access tokens for the sandbox's one OAuth client, and checks them on use."""

    def __init__(self) -> None:
        self.client_id, self.client_secret, self.refresh_token = (
            CLIENT_ID,
            CLIENT_SECRET,
            REFRESH_TOKEN,
        )
        self._issued: dict[str, float] = {}  # token -> time.monotonic() when it was granted
        self._lock = threading.Lock()

    def grant(self, request: Request, api_domain: str, ttl: float | None) -> Response:
        """Zoho's refresh-token grant; errors come back as HTTP 200 with an `error` key."""
        form = _form(request)
        if form.get("grant_type") != "refresh_token":
            return Response(200, {"error": "unsupported_grant_type"})
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            return Response(200, {"error": "invalid_client"})
        if form.get("refresh_token") != self.refresh_token:
            return Response(200, {"error": "invalid_code"})
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        with self._lock:
            self._issued[token] = time.monotonic()
        body = {
            "access_token": token,
            "scope": SCOPE,
            "api_domain": api_domain,
            "token_type": "Bearer",
            "expires_in": int(ttl) if ttl else 3600,
        }
        return Response(200, body)

    def check(self, header: str | None, ttl: float | None) -> None:
        """Raises Zoho's 401 unless the Authorization header holds a live token."""
        if not header or not header.startswith(_PREFIX):
            raise ApiError(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        token = header[len(_PREFIX) :].strip()
        with self._lock:
            issued = self._issued.get(token)
        if issued is None or (ttl and time.monotonic() - issued > ttl):
            raise ApiError(401, "INVALID_TOKEN", "invalid oauth token")


def _form(request: Request) -> dict[str, str]:
    """Token endpoint parameters: Zoho accepts them in the query string or a form body."""
    merged = {k: v[0] for k, v in parse_qs(request.query).items()}
    if request.body and "json" not in request.headers.get("Content-Type", ""):
        body = request.body.decode("utf-8", "replace")
        merged.update({k: v[0] for k, v in parse_qs(body).items()})
    return merged
