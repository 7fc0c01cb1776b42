"""The record read endpoints: pages of a module, one record, and the deleted-records listing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from crm_books.json_text import is_plain
from zoho_sandbox import page_tokens, params
from zoho_sandbox.errors import ApiError, invalid
from zoho_sandbox.generator import iso_time
from zoho_sandbox.messages import Response
from zoho_sandbox.params import Query
from zoho_sandbox.store import SANDBOX_USER, SORT_FIELDS, ModuleTable, Store, View

PAGE_TOKEN_TTL = timedelta(days=1)
DELETED_TYPES = ("all", "recycle", "permanent")


@dataclass(frozen=True)
class PageQuery:
    """The parameters of one GET of a module's records, checked."""

    module: str
    fields: list[str]
    per_page: int
    sort_by: str
    sort_order: str
    since: int | None
    token: str | None

    @property
    def desc(self) -> bool:
        return self.sort_order == "desc"

    @classmethod
    def of(cls, module: str, query: Query, ims: str | None) -> PageQuery:
        fields = params.fields(module, params.param(query, "fields"), required=True)
        assert fields is not None  # required: it raised otherwise
        per_page = params.per_page(query)
        sort_by = params.param(query, "sort_by") or "id"
        if sort_by not in SORT_FIELDS:
            raise invalid(f"sort_by must be one of {', '.join(SORT_FIELDS)}", param="sort_by")
        sort_order = params.param(query, "sort_order") or "desc"
        if sort_order not in ("asc", "desc"):
            raise invalid("sort_order must be asc or desc", param="sort_order")
        since = params.since(ims)
        return cls(
            module, fields, per_page, sort_by, sort_order, since, params.param(query, "page_token")
        )

    def token_position(self, view: View, token: str) -> tuple[int, int, int]:
        """(position in the view, page number, records served before) after a page token."""
        after_key, served = page_tokens.decode(
            token, self.module, self.sort_by, self.desc, self.since
        )
        return view.after(after_key), served // self.per_page + 1, served

    def next_token(self, view: View, end: int, served: int) -> str | None:
        if end >= view.hi:
            return None
        key = view.keys[end - 1]
        return page_tokens.encode(self.module, self.sort_by, self.desc, self.since, key, served)


@dataclass(frozen=True)
class Limits:
    """Zoho's paging limits: records reachable with `page`, and records in one query."""

    discrete_page: int
    query_records: int


class RecordReads:
    """GET /crm/v8/{module}, /{module}/{id} and /{module}/deleted."""

    def __init__(self, store: Store, now: Callable[[], int], limits: Limits) -> None:
        self.store = store
        self.now = now
        self.limits = limits

    def page(self, module: str, query: Query, ims: str | None) -> Response:
        q = PageQuery.of(module, query, ims)
        with self.store.lock:
            table = self.store.table(module)
            if table.live == 0:
                return Response(204)
            view = table.view(q.sort_by, q.desc, q.since)
            if q.token:
                pos, page, served = q.token_position(view, q.token)
            else:
                page, served = self._discrete_page(query, q.per_page)
                pos = view.lo + served
            if served >= self.limits.query_records:
                raise _query_limit(self.limits.query_records)
            end = min(pos + q.per_page, view.hi, pos + self.limits.query_records - served)
            if pos >= end:
                return Response(304) if q.since is not None and len(view) == 0 else Response(204)
            slots = view.slots[pos:end]
            data = self.store.render_page(table, slots, q.fields)
            plain = _plain(table, slots, data)
            next_token = q.next_token(view, end, served + len(data))
        info = self._page_info(q, len(data), page, next_token)
        return Response(200, {"data": data, "info": info}, plain=plain)

    def _discrete_page(self, query: Query, per_page: int) -> tuple[int, int]:
        """(page number, records before it) of a `page` parameter within the discrete limit."""
        page = params.int_param(query, "page", 1, 1)
        limit = self.limits.discrete_page
        if page * per_page > limit:
            raise ApiError(
                400,
                "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                f"cannot fetch more than {limit} records with the page "
                "param; use page_token from info.next_page_token",
                {"limit": limit},
            )
        return page, (page - 1) * per_page

    def _page_info(self, q: PageQuery, count: int, page: int, token: str | None) -> dict[str, Any]:
        expiry = iso_time(
            self.now() + int(PAGE_TOKEN_TTL.total_seconds()), self.store.tz_offset_minutes
        )
        return {
            "per_page": q.per_page,
            "count": count,
            "page": page,
            "sort_by": q.sort_by,
            "sort_order": q.sort_order,
            "more_records": token is not None,
            "next_page_token": token,
            "previous_page_token": None,
            "page_token_expiry": expiry if token else None,
            "call": False,
            "email": False,
        }

    def one(self, module: str, rid: int, query: Query) -> Response:
        fields = params.fields(module, params.param(query, "fields"), required=False)
        with self.store.lock:
            table = self.store.table(module)
            slot = table.slot_of(rid)
            if slot is None:
                return Response(204)
            record = self.store.render(table, slot, fields)
        return Response(200, {"data": [record]})

    def deleted(self, module: str, query: Query, ims: str | None) -> Response:
        kind = params.param(query, "type") or "all"
        if kind not in DELETED_TYPES:
            raise invalid("type must be all, recycle or permanent", param="type")
        per_page = params.per_page(query)
        page = params.int_param(query, "page", 1, 1)
        since = params.since(ims)
        entries = self.store.deleted(module, kind, since)
        if not entries:
            any_deleted = since is not None and self.store.deleted(module, kind, None)
            return Response(304 if any_deleted else 204)
        chunk = entries[(page - 1) * per_page : page * per_page]
        if not chunk:
            return Response(204)
        off = self.store.tz_offset_minutes
        data = [
            {
                "deleted_by": None if d.type == "permanent" else SANDBOX_USER,
                "id": str(d.id),
                "display_name": None if d.type == "permanent" else d.display_name,
                "type": d.type,
                "created_by": SANDBOX_USER,
                "deleted_time": iso_time(d.deleted_ts, off),
            }
            for d in chunk
        ]
        more = page * per_page < len(entries)
        info = {"per_page": per_page, "count": len(data), "page": page, "more_records": more}
        return Response(200, {"data": data, "info": info})


def _plain(table: ModuleTable, slots: Any, data: list[dict[str, Any]]) -> bool:
    """Generated records are plain by construction; written ones are checked."""
    return not table.overrides or all(
        is_plain(r) for s, r in zip(slots, data, strict=True) if s in table.overrides
    )


def _query_limit(limit: int) -> ApiError:
    return ApiError(
        400,
        "PAGINATION_LIMIT_EXCEEDED",
        f"cannot fetch more than {limit} records in one query; "
        "restart it, e.g. from the last Modified_Time seen",
        {"limit": limit},
    )
