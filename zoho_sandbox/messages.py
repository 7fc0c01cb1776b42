"""What passes between the HTTP plumbing and the endpoints: a parsed request and a response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    """One HTTP request as the endpoints see it (path without its trailing slash)."""

    method: str
    path: str
    query: str
    headers: Any  # the handler's email.message.Message: case-insensitive .get()
    body: bytes


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, or bytes for a raw body
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    plain: bool = False  # body is known to hold only values msgspec writes like json.dumps
