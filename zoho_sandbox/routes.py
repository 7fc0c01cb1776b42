"""Routes a CRM API call (/crm/v8/...) to its endpoint by path and method."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from crm_books import config as crm_config
from zoho_sandbox import org_settings
from zoho_sandbox.bulk_query import count_matching
from zoho_sandbox.errors import bad_method, bad_url
from zoho_sandbox.messages import Request, Response
from zoho_sandbox.org_settings import Org
from zoho_sandbox.params import Query, check_module, json_body, param, record_id
from zoho_sandbox.record_reads import RecordReads
from zoho_sandbox.record_writes import RecordWrites
from zoho_sandbox.store import Store

API_PREFIX = crm_config.CRM_API_PREFIX + "/"


class CrmApi:
    """The CRM v8 endpoints behind authentication and the gates."""

    def __init__(self, store: Store, org: Org, reads: RecordReads, writes: RecordWrites) -> None:
        self.store = store
        self.org = org
        self.reads = reads
        self.writes = writes

    def handle(self, request: Request) -> Response:
        method = request.method
        parts = [p for p in request.path[len(API_PREFIX) :].split("/") if p]
        query = parse_qs(request.query, keep_blank_values=True)
        if not parts:
            raise bad_url()
        if parts == ["org"] and method == "GET":
            return Response(200, self.org.payload())
        if parts[0] == "settings":
            return org_settings.settings(method, parts, query)
        module = check_module(parts[0])
        if len(parts) == 1:
            return self._module(module, request, query)
        ims = request.headers.get("If-Modified-Since")
        if len(parts) == 2 and parts[1] == "deleted" and method == "GET":
            return self.reads.deleted(module, query, ims)
        if parts[1:] == ["actions", "count"] and method == "GET":
            # Zoho returns the count as a string.
            count = count_matching(self.store, module, param(query, "criteria"))
            return Response(200, {"count": str(count)})
        if len(parts) == 2:
            return self._record(module, record_id(parts[1]), request, query)
        raise bad_url()

    def _module(self, module: str, request: Request, query: Query) -> Response:
        """/crm/v8/{module}: a page, an insert or update of up to 100 records, or a delete."""
        if request.method == "GET":
            return self.reads.page(module, query, request.headers.get("If-Modified-Since"))
        if request.method in ("POST", "PUT"):
            return self.writes.write(module, request.method, json_body(request.body))
        if request.method == "DELETE":
            return self.writes.delete(module, param(query, "ids"))
        raise bad_method()

    def _record(self, module: str, rid: int, request: Request, query: Query) -> Response:
        """/crm/v8/{module}/{id}: read, update or delete one record."""
        if request.method == "GET":
            return self.reads.one(module, rid, query)
        if request.method == "PUT":
            payload: Any = json_body(request.body)
            for rec in payload.get("data") or []:
                if isinstance(rec, dict):
                    rec["id"] = str(rid)
            return self.writes.write(module, "PUT", payload)
        if request.method == "DELETE":
            return self.writes.delete(module, str(rid))
        raise bad_method()
