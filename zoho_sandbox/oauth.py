"""The OAuth side: Zoho's refresh-token grant at /oauth/v2/token (with Zoho's limits on grants
and live tokens per refresh token), and the check of API tokens."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qs

from zoho_sandbox.errors import ApiError
from zoho_sandbox.limits import SlidingWindow
from zoho_sandbox.messages import Request, Response
from zoho_sandbox.profiles import Knobs
from zoho_sandbox.stats import Usage

TOKEN_PATH = "/oauth/v2/token"
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
REFRESH_TOKEN = "sandbox-refresh"
SCOPE = "ZohoCRM.modules.ALL ZohoCRM.settings.ALL ZohoCRM.org.READ"
_PREFIX = "Zoho-oauthtoken "
# Zoho's answer past the grants per window: HTTP 200, and no token
ACCESS_DENIED = {
    "error_description": "You have made too many requests continuously. "
    "Please try again after some time.",
    "error": "Access Denied",
    "status": "failure",
}


class TokenIssuer:
    """Grants access tokens for the sandbox's one OAuth client, and checks them on use. At most
    `token_grants_per_window` grants per sliding window; past `max_live_tokens` live tokens a
    grant evicts the oldest, whose next use is refused with INVALID_OAUTHTOKEN."""

    def __init__(self, knobs: Callable[[], Knobs] = Knobs, usage: Usage | None = None) -> None:
        self.knobs = knobs
        self.usage = usage or Usage()
        self._grants = SlidingWindow()
        self._evicted: set[str] = set()
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
        k = self.knobs()
        if self._grants.take(k.token_grants_per_window, k.token_window_seconds) is not None:
            self.usage.add("token_denials")
            return Response(200, dict(ACCESS_DENIED))
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        with self._lock:
            self._issued[token] = time.monotonic()
            self._evict(k.max_live_tokens, ttl)
        self.usage.add("token_grants")
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
            evicted = token in self._evicted
        if evicted:
            raise ApiError(401, "INVALID_OAUTHTOKEN", "invalid oauth token")
        if issued is None or (ttl and time.monotonic() - issued > ttl):
            raise ApiError(401, "INVALID_TOKEN", "invalid oauth token")

    def _evict(self, max_live: int, ttl: float | None) -> None:
        """Forget expired tokens; past max_live live ones, evict the oldest (lock held)."""
        now = time.monotonic()
        for token in [t for t, at in self._issued.items() if ttl and now - at > ttl]:
            del self._issued[token]
        while max_live and len(self._issued) > max_live:
            oldest = next(iter(self._issued))
            del self._issued[oldest]
            self._evicted.add(oldest)
            self.usage.add("tokens_evicted")


def _form(request: Request) -> dict[str, str]:
    """Token endpoint parameters: Zoho accepts them in the query string or a form body."""
    merged = {k: v[0] for k, v in parse_qs(request.query).items()}
    if request.body and "json" not in request.headers.get("Content-Type", ""):
        body = request.body.decode("utf-8", "replace")
        merged.update({k: v[0] for k, v in parse_qs(body).items()})
    return merged
