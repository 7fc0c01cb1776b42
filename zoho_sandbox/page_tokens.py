"""Keyset page tokens: the sort key of the last record served, bound to the query that made it."""

from __future__ import annotations

import base64

from zoho_sandbox.errors import invalid


def _query_part(module: str, sort_by: str, desc: bool, since: int | None) -> str:
    return f"{module}|{sort_by}|{int(desc)}|{'' if since is None else since}"


def encode(module: str, sort_by: str, desc: bool, since: int | None, key: int, served: int) -> str:
    raw = f"1|{_query_part(module, sort_by, desc, since)}|{key}|{served}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str, module: str, sort_by: str, desc: bool, since: int | None) -> tuple[int, int]:
    """(sort key of the last record served, records served so far) of a page token."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        version, t_module, t_sort, t_desc, t_since, key, served = raw.split("|")
        same = "|".join((t_module, t_sort, t_desc, t_since)) == _query_part(
            module, sort_by, desc, since
        )
        if version != "1" or not same:
            raise ValueError("token of another query")
        return int(key), int(served)
    except ValueError:
        raise invalid(
            "invalid page_token (it belongs to another module, sort or If-Modified-Since)",
            param="page_token",
        ) from None
