"""Request parameters read and checked the way Zoho checks them: modules, ids, fields, dates."""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from typing import Any

from crm_books import config as crm_config
from zoho_sandbox import metadata
from zoho_sandbox.errors import ApiError, invalid, limit_exceeded, missing_param
from zoho_sandbox.store import parse_time

Query = dict[str, list[str]]


def check_module(module: str) -> str:
    if module not in metadata.FIELD_NAMES:
        raise ApiError(
            400,
            "INVALID_MODULE",
            "the module name given seems to be invalid",
            {"resource_path_index": 0, "module": module},
        )
    return module


def record_id(text: str) -> int:
    if not text.isdigit():
        raise invalid("the id given seems to be invalid", id=text)
    return int(text)


def param(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def int_param(query: Query, name: str, default: int, minimum: int) -> int:
    raw = param(query, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"{name} must be an integer", param=name) from None
    if value < minimum:
        raise invalid(f"{name} must be at least {minimum}", param=name)
    return value


def per_page(query: Query) -> int:
    """per_page, at most Zoho's 200."""
    return min(int_param(query, "per_page", crm_config.PER_PAGE, 1), crm_config.PER_PAGE)


def fields(module: str, raw: str | None, *, required: bool) -> list[str] | None:
    """The requested field list, validated like Zoho (required, at most 50, all known)."""
    if raw is None or not raw.strip():
        if not required:
            return None
        raise missing_param("fields")
    names = list(dict.fromkeys(f.strip() for f in raw.split(",") if f.strip()))
    limit = crm_config.MAX_FIELDS_PER_CALL
    if len(names) > limit:
        raise limit_exceeded(f"at most {limit} fields per call", param="fields", limit=limit)
    known = metadata.FIELD_NAMES[module]
    for name in names:
        if name not in known:
            raise invalid(f"invalid field name: {name} (not a field of {module})", api_name=name)
    return names


def since(header: str | None) -> int | None:
    """If-Modified-Since as epoch seconds: RFC 2822 (HTTP date) or ISO-8601."""
    if header is None or not header.strip():
        return None
    text = header.strip()
    try:
        return parse_time(text)
    except ValueError:
        pass
    try:
        return int(parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError):
        raise invalid("If-Modified-Since is not a valid date", header="If-Modified-Since") from None


def json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise invalid("body is not valid JSON", api_name="body") from None
