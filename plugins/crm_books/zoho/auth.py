"""OAuth for the Zoho CRM API: the credentials, and one access token shared through a store."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from crm_books.zoho.endpoints import ACCESS_DENIED, TOKEN_PATH
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

    def store_key(self) -> str:
        """Names this refresh token in a token store without revealing it (a SHA-256)."""
        parts = (self.accounts_url.rstrip("/"), self.client_id, self.refresh_token)
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class DenialPolicy:
    """How the client waits out the accounts server's "Access Denied" (too many grants: Zoho
    allows 10 per refresh token per 10 minutes). It asks again every ``wait_seconds``, and gives
    up after ``max_wait_seconds``; it never mints other tokens to get out."""

    wait_seconds: float = 60.0
    max_wait_seconds: float = 660.0


@dataclass(frozen=True)
class TokenState:
    """What a store holds for one refresh token. Times are Unix epoch seconds."""

    token: str | None = field(default=None, repr=False)
    expires_at: float = 0.0  # when to refresh (Zoho's expiry less a margin)
    denied_until: float = 0.0  # no grant asked before this ("Access Denied")
    grants: int = 0  # access tokens granted so far through this store

    def usable(self, now: float) -> bool:
        return self.token is not None and now < self.expires_at


class LockedStore(Protocol):
    """A store while its refresh lock is held: read again, then write what the refresh got."""

    def read(self) -> TokenState: ...

    def write(self, state: TokenState) -> None: ...


class TokenStore(Protocol):
    """Where the access token of one refresh token is kept for everyone who uses it."""

    def read(self) -> TokenState:
        """The current state, without the lock (the common case: a valid token is there)."""
        ...

    def locked(self) -> AbstractContextManager[LockedStore]:
        """The refresh lock: one holder at a time, across everything sharing the store."""
        ...

    def expire(self, token: str) -> None:
        """Drop `token` (Zoho rejected it), unless the store already holds another."""
        ...


class MemoryTokenStore:
    """A token store inside one process (threads share it); the default without a warehouse."""

    def __init__(self) -> None:
        self._state = TokenState()
        self._lock = threading.Lock()

    def read(self) -> TokenState:
        return self._state

    def write(self, state: TokenState) -> None:
        self._state = state

    @contextmanager
    def locked(self) -> Iterator[LockedStore]:
        with self._lock:
            yield self

    def expire(self, token: str) -> None:
        with self._lock:
            if self._state.token == token:
                self._state = replace(self._state, token=None, expires_at=0.0)


class TokenSource(Protocol):
    """Hands out access tokens; what a client needs from an authenticator."""

    def token(self) -> str:
        """A valid access token, refreshed first when there is none or it is about to expire."""
        ...

    def invalidate(self, token: str) -> None:
        """Forget `token` (Zoho rejected it), so the next `token()` refreshes."""
        ...


class ZohoAuthenticator:
    """The access token of one refresh token, kept in a store shared by every client using it.

    Thread-safe. With a shared store (the warehouse's, see zoho/token_store.py) every task,
    sensor poke and worker uses one token: a client reads the store, and only when the token
    there is missing or due does it take the store's lock, read again (someone may just have
    refreshed) and ask Zoho for one. In steady state that is one grant per token lifetime.

    :param credentials: the OAuth client and refresh token, and the accounts server's URL.
    :param transport: sends the refresh request (with the transport's retries).
    :param store: where the token is shared; by default this instance only (in memory).
    :param on_token: called with each access token before it is used, e.g. Airflow's
        `mask_secret`, so no log line can show it (also for tokens read from the store).
    :param denial: how long to wait out "Access Denied" from the accounts server.
    :param sleep: waits between asks while denied (inject a fake in tests).
    :param clock: Unix time now, shared by every host reading the store.
    """

    def __init__(
        self,
        credentials: CrmCredentials,
        transport: Transport,
        *,
        store: TokenStore | None = None,
        on_token: Callable[[str], object] | None = None,
        denial: DenialPolicy = DenialPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.credentials = credentials
        self.transport = transport
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self.on_token = on_token
        self.denial = denial
        self.sleep = sleep
        self.clock = clock
        self._held = TokenState()
        self._lock = threading.Lock()

    def token(self) -> str:
        """A valid access token, refreshed first when there is none or it is about to expire."""
        with self._lock:
            if not self._held.usable(self.clock()):
                self._held = self._shared_state()
                if self.on_token is not None and self._held.token is not None:
                    self.on_token(self._held.token)  # mask before anything could log it
            assert self._held.token is not None
            return self._held.token

    def invalidate(self, token: str) -> None:
        """Forget `token` (Zoho rejected it), here and in the store, unless already replaced."""
        with self._lock:
            if self._held.token == token:
                self._held = TokenState()
        self.store.expire(token)

    def _shared_state(self) -> TokenState:
        """A state with a usable token: the store's, or a new grant stored for everyone."""
        started = self.clock()
        while True:
            state = self.store.read()
            now = self.clock()
            if state.usable(now):
                return state
            if now >= state.denied_until:
                with self.store.locked() as locked:
                    state = locked.read()  # someone may have refreshed while we waited
                    if state.usable(self.clock()):
                        return state
                    if self.clock() >= state.denied_until:
                        state = self._refresh(state)
                        locked.write(state)
                        if state.token is not None:  # a fresh grant is used even if short-lived
                            return state
            self._wait_out(state, started)

    def _refresh(self, state: TokenState) -> TokenState:
        """Ask the accounts server for a token: the new state, or the denial window it set."""
        try:
            token, lifetime = request_grant(self.credentials, self.transport)
        except CrmApiError as exc:
            if exc.code != ACCESS_DENIED:
                raise
            wait = self.denial.wait_seconds
            log.warning(
                "Zoho refused a new access token (Access Denied); asking again in %.0fs", wait
            )
            return replace(state, token=None, expires_at=0.0, denied_until=self.clock() + wait)
        margin = min(TOKEN_REFRESH_MARGIN_SECONDS, lifetime / 10)
        return TokenState(token, self.clock() + lifetime - margin, 0.0, state.grants + 1)

    def _wait_out(self, state: TokenState, started: float) -> None:
        """Sleep until the denial window ends, or raise once that would exceed the bound."""
        now = self.clock()
        wait = max(state.denied_until - now, 0.0) or self.denial.wait_seconds
        if now + wait - started > self.denial.max_wait_seconds:
            raise CrmApiError(
                200,
                ACCESS_DENIED,
                f"the accounts server refused new access tokens for {now - started:.0f}s "
                "(more than 10 grants in 10 minutes for this refresh token)",
                fix=(
                    "find what else mints tokens with this refresh token (another deployment, "
                    "a script) and stop it, or give this deployment its own refresh token; "
                    "then clear the task"
                ),
            )
        self.sleep(wait)


def request_grant(credentials: CrmCredentials, transport: Transport) -> tuple[str, float]:
    """A new access token from the refresh token, and its lifetime in seconds."""
    form = {
        "grant_type": "refresh_token",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "refresh_token": credentials.refresh_token,
    }
    url = credentials.accounts_url.rstrip("/") + TOKEN_PATH
    body = transport.call("POST", url, data=form) or {}
    if "access_token" not in body:
        # Zoho's accounts server refuses with HTTP 200 and {"error": ...}.
        code, message, _ = error_from_body(200, body)
        raise CrmApiError(200, code, f"token refresh refused: {message}")
    lifetime = float(body.get("expires_in", 3600))
    log.info("Granted a new Zoho access token (valid for %.0fs)", lifetime)
    return str(body["access_token"]), lifetime
