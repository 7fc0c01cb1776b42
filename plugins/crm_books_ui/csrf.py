"""Refusing cross-site writes: a per-user signed form token and the browser's own origin headers."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit

TOKEN_MAX_AGE = 12 * 3600
CSRF_FIELD = "csrf_token"


def _signature(key: bytes, user_id: str, issued: int) -> str:
    return hmac.new(key, f"{user_id}\n{issued}".encode(), hashlib.sha256).hexdigest()


def csrf_token(key: bytes, user_id: str, *, now: int) -> str:
    """The token a form of this page carries: when it was issued, signed for this user."""
    return f"{now}.{_signature(key, user_id, now)}"


def token_is_valid(key: bytes, user_id: str, token: str | None, *, now: int) -> bool:
    """True for a token this server issued to this user in the last TOKEN_MAX_AGE seconds."""
    issued_text, _, signature = (token or "").partition(".")
    if not issued_text.isdigit() or not signature:
        return False
    issued = int(issued_text)
    if not 0 <= now - issued <= TOKEN_MAX_AGE:
        return False
    return hmac.compare_digest(signature, _signature(key, user_id, issued))


def cross_site_reason(headers: Mapping[str, str]) -> str | None:
    """Why the browser's headers show a request from another site, or None when they don't.

    Browsers send Sec-Fetch-Site on every request and Origin on every POST; a request whose
    Origin is not this host is refused as Airflow's CORS setting would refuse it."""
    site = headers.get("sec-fetch-site")
    if site in ("cross-site", "same-site"):
        return f"the request came from another site (Sec-Fetch-Site: {site})"
    origin = headers.get("origin") or headers.get("referer")
    if origin and origin != "null":
        if urlsplit(origin).netloc != headers.get("host", ""):
            return f"the request came from {origin}, not from this Airflow"
    elif origin == "null":
        return "the request came from an opaque origin (Origin: null)"
    return None
