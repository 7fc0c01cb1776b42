"""A ZohoCrmClient on the sandbox, and a session that records (or edits) its HTTP exchanges.

The sandbox is the one Zoho fake. `Tap` sits in the client's `requests.Session`, so a test can
check the exact requests the client sent (query params, headers) and, for the two answers the
sandbox never gives, edit the sandbox's real answer: raw invalid UTF-8 bytes in a page, and a
page without `next_page_token`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from crm_books.config import MODULE_FIELDS
from crm_books.zoho.auth import CrmCredentials
from crm_books.zoho.client import ZohoCrmClient
from zoho_sandbox import SandboxConfig, SandboxServer

TIMEOUT = 10


class Sleeps(list[float]):
    """Records the waits the client asks for instead of sleeping; `then` runs after each."""

    def __init__(self, then: Callable[[int], object] | None = None) -> None:
        super().__init__()
        self.then = then

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.then is not None:
            self.then(len(self))


@dataclass(frozen=True)
class Sent:
    """One request as the client sent it."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


class Tap(requests.Session):
    """A session that records each request and can rewrite the body of each API answer.

    :param edit: rewrites the raw body of each `/crm/` answer (token answers are left alone).
    """

    def __init__(self, edit: Callable[[bytes], bytes] | None = None) -> None:
        super().__init__()
        self.sent: list[Sent] = []
        self.edit = edit

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        path = urlsplit(str(url)).path
        params = {k: str(v) for k, v in (kwargs.get("params") or {}).items()}
        headers = {k.lower(): v for k, v in (kwargs.get("headers") or {}).items()}
        self.sent.append(Sent(str(method), path, params, headers))
        response = super().request(method, url, *args, **kwargs)
        if self.edit is not None and path.startswith("/crm/") and response.content:
            response._content = self.edit(response.content)
        return response

    def api(self) -> list[Sent]:
        """The API requests sent (not the token endpoint's)."""
        return [s for s in self.sent if s.path.startswith("/crm/")]


@contextmanager
def running_sandbox(**options: Any) -> Iterator[SandboxServer]:
    """A seeded sandbox (100 accounts, 300 contacts, 50 deals unless `options` say otherwise)."""
    config: dict[str, Any] = {"accounts": 100, "contacts": 300, "deals": 50, **options}
    with SandboxServer(SandboxConfig(seed=7, **config)) as sb:
        yield sb


def credentials(sb: SandboxServer, *, secret: str | None = None) -> CrmCredentials:
    return CrmCredentials(
        sb.base_url, sb.accounts_url, sb.client_id, secret or sb.client_secret, sb.refresh_token
    )


def client_for(sb: SandboxServer, **options: Any) -> ZohoCrmClient:
    options.setdefault("sleep", Sleeps())
    options.setdefault("timeout", 10.0)
    return ZohoCrmClient(credentials(sb), **options)


def read_ids(client: ZohoCrmClient, module: str, **kw: Any) -> list[str]:
    return [
        r["id"] for page in client.iter_pages(module, MODULE_FIELDS[module], **kw) for r in page
    ]


def api_requests(sb: SandboxServer, path_part: str, status: int) -> int:
    """How many API requests to paths containing `path_part` the sandbox answered `status`."""
    return sum(
        n
        for key, n in sb.stats["by_request"].items()
        if path_part in key and key.endswith(f" {status}")
    )


def token_calls(sb: SandboxServer) -> int:
    return int(sb.stats["by_path"].get("/oauth/v2/token", 0))


def access_token(sb: SandboxServer, session: requests.Session) -> str:
    resp = session.post(
        f"{sb.accounts_url}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": sb.client_id,
            "client_secret": sb.client_secret,
            "refresh_token": sb.refresh_token,
        },
        timeout=TIMEOUT,
    )
    return str(resp.json()["access_token"])


class Api:
    """A minimal authenticated caller of the sandbox (the real client is tested elsewhere)."""

    def __init__(self, sb: SandboxServer) -> None:
        self.sb = sb
        self.session = requests.Session()
        self.token = access_token(sb, self.session)

    def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        h = {"Authorization": f"Zoho-oauthtoken {self.token}", **(headers or {})}
        return self.session.request(
            method, f"{self.sb.base_url}{path}", headers=h, timeout=TIMEOUT, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)
