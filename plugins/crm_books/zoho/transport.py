"""HTTP calls to Zoho: one exchange sent, decoded and classified, repeated by the Retrier."""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import msgspec
import requests

from crm_books.zoho.endpoints import AUTH_SCHEME
from crm_books.zoho.errors import CrmApiError, classify, network_failure
from crm_books.zoho.retry import Outcome, Retrier, parse_retry_after
from crm_books.zoho.usage import UsageMeter

if TYPE_CHECKING:
    from crm_books.zoho.auth import TokenSource
    from crm_books.zoho.limiter import CallLimiter


@dataclass
class Transport:
    """Sends requests to Zoho (the API or the accounts server) with bounded retries.

    :param session: the `requests.Session` that keeps connections open.
    :param retrier: the retry loop and its bounds.
    :param timeout: seconds per HTTP request.
    :param limiter: holds a slot of the org's concurrency cap around each API call (the token
        endpoint is the accounts server's, outside the cap); None: no cap.
    :param meter: counts the API calls and the credits they cost.
    """

    session: requests.Session
    retrier: Retrier
    timeout: float
    limiter: CallLimiter | None = None
    meter: UsageMeter = field(default_factory=UsageMeter)

    def call(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        auth: TokenSource | None = None,
        sink: IO[bytes] | None = None,
    ) -> dict[str, Any] | None:
        """The JSON body, or None for 204/304; raises CrmApiError.

        :param json_body: sent as a JSON request body (e.g. a Bulk Read job's query).
        :param auth: the access tokens to send; a rejected one is invalidated and the call
            retried once with a fresh one. None for the token endpoint itself.
        :param sink: a binary file a 200 answer's body is streamed into (rewritten on each
            attempt), e.g. a Bulk Read result zip; the call then returns `{"bytes": n}`.
        """
        token: str | None = None  # the latest attempt's, to invalidate if it is rejected

        def attempt() -> Outcome:
            nonlocal token
            request_headers = dict(headers or {})
            if auth is not None:
                token = auth.token()
                request_headers["Authorization"] = f"{AUTH_SCHEME} {token}"
            request = Request(
                method, url, params, data, request_headers, auth is not None, json_body, sink
            )
            return self._exchange(request)

        def refresh() -> None:
            if auth is not None and token is not None:
                auth.invalidate(token)

        return self.retrier.run(attempt, request=f"{method} {_path(url)}", refresh=refresh)

    def _exchange(self, request: Request) -> Outcome:
        """One request: the usable body, or the failure it met."""
        try:
            response = self._send(request)
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,  # a download cut off mid-body
        ) as exc:
            return network_failure(exc)
        status = response.status_code
        if status in (204, 304):  # no records, nothing modified
            return None
        if request.sink is not None and status == 200:
            return {"bytes": request.sink.tell()}
        body = _json_or_none(response)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        failure = classify(status, body, authorized=request.authorized, retry_after=retry_after)
        if failure is not None:
            return failure
        if not isinstance(body, dict):
            raise CrmApiError(
                status,
                "UNEXPECTED_RESPONSE",
                f"{request.method} {request.url} did not return JSON",
                fix="check the zoho_crm connection's host and extra.accounts_url",
            )
        return body

    def _send(self, request: Request) -> requests.Response:
        """One HTTP exchange. An API call holds a slot of the concurrency cap while in flight,
        and is counted with its status (None: no answer) by the meter."""
        if not request.authorized:  # the accounts server: outside the API's cap and credits
            return self._request(request)
        status: int | None = None
        try:
            with self.limiter.slot() if self.limiter else nullcontext():
                response = self._request(request)
                status = response.status_code
                if request.sink is not None and status == 200:
                    _drain(response, request.sink)  # a download holds its slot throughout
            return response
        finally:
            self.meter.record_call(status)

    def _request(self, request: Request) -> requests.Response:
        return self.session.request(
            request.method,
            request.url,
            params=request.params,
            data=request.data,
            json=request.json_body,
            headers=request.headers,
            timeout=self.timeout,
            stream=request.sink is not None,
        )


@dataclass(frozen=True)
class Request:
    """One HTTP request as the transport sends it."""

    method: str
    url: str
    params: dict[str, Any] | None
    data: dict[str, str] | None
    headers: dict[str, str]
    authorized: bool  # carries an access token: an API call, not the token endpoint
    json_body: Any = None
    sink: IO[bytes] | None = None  # where a 200 answer's body is streamed


_CHUNK_BYTES = 1 << 20


def _drain(response: requests.Response, sink: IO[bytes]) -> None:
    """Stream the body into `sink`, replacing what an earlier attempt wrote."""
    sink.seek(0)
    sink.truncate()
    for chunk in response.iter_content(_CHUNK_BYTES):
        sink.write(chunk)
    sink.flush()


_decode_json = msgspec.json.Decoder().decode


def _json_or_none(response: requests.Response) -> Any:
    """The decoded body, or None when it is not JSON. msgspec decodes a 200-record page several
    times faster than the standard library; what it refuses (a lone surrogate escape, invalid
    UTF-8) is given to the standard library. Invalid UTF-8 bytes decode as lone surrogates
    (surrogateescape), so one bad value costs its record, not the page: the sync quarantines it."""
    try:
        return _decode_json(response.content)
    except ValueError:  # msgspec.DecodeError, or UnicodeDecodeError for invalid UTF-8
        pass
    try:
        return json.loads(response.content.decode("utf-8-sig", errors="surrogateescape"))
    except ValueError:
        return None


def _path(url: str) -> str:
    """The URL without scheme and host, for messages."""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]
