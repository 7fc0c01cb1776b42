"""The sandbox's HTTP server: Zoho CRM v8 endpoints, OAuth token endpoint, faults and admin calls."""

from __future__ import annotations

import base64
import json
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from crm_books import config as crm_config
from crm_books.json_text import is_plain, json_bytes
from zoho_sandbox import metadata
from zoho_sandbox.generator import Generator, iso_time
from zoho_sandbox.store import SANDBOX_USER, SORT_FIELDS, Store, parse_time

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
REFRESH_TOKEN = "sandbox-refresh"
SCOPE = "ZohoCRM.modules.ALL ZohoCRM.settings.ALL ZohoCRM.org.READ"
MAX_WRITE_RECORDS = 100
PAGE_TOKEN_TTL = timedelta(days=1)
_API = crm_config.CRM_API_PREFIX + "/"


@dataclass(frozen=True)
class SandboxConfig:
    """What the sandbox serves. Sizes are generated records per module; limits are Zoho's."""

    seed: int = 7
    accounts: int = 100
    contacts: int = 300
    deals: int = 50
    discrete_page_limit: int = crm_config.DISCRETE_PAGE_LIMIT
    query_record_limit: int = crm_config.QUERY_RECORD_LIMIT
    org_id: str = "sandbox-org-1"
    org_name: str = "Sandbox Org"
    clock_start: datetime | None = None
    time_zone: str = "Asia/Kolkata"


@dataclass(frozen=True)
class Faults:
    """Switchable faults; 0 / None switches one off. Tokens expire token_ttl_seconds after they
    were issued (checked on use, so lowering it also expires tokens already handed out)."""

    rate_limit_every: int = 0
    error_rate: float = 0.0
    slow_seconds: float = 0.0
    token_ttl_seconds: float | None = 3600
    seed: int | None = None
    retry_after_seconds: int = 1


class Clock:
    """The sandbox's notion of now: wall-clock time (plus an offset) until set, then frozen."""

    def __init__(self, start: datetime | None) -> None:
        self._frozen: int | None = _epoch(start) if start is not None else None
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            return self._frozen if self._frozen is not None else int(time.time() + self._offset)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._frozen = _epoch(when)

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += int(seconds)
            else:
                self._offset += seconds


class Stats:
    """Request counters (API, token endpoint; admin calls are not counted)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.by_status: Counter[int] = Counter()
            self.by_path: Counter[str] = Counter()
            self.by_code: Counter[str] = Counter()
            self.by_request: Counter[str] = Counter()

    def record(self, method: str, path: str, status: int, code: str | None) -> None:
        with self._lock:
            self.by_status[status] += 1
            self.by_path[path] += 1
            self.by_request[f"{method} {path} {status}"] += 1
            if code:
                self.by_code[code] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self.by_status.values()),
                "by_status": dict(self.by_status),
                "by_path": dict(self.by_path),
                "by_code": dict(self.by_code),
                "by_request": dict(self.by_request),
            }


class ApiError(Exception):
    """A Zoho error envelope with its HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.body: dict[str, Any] = {
            "code": code,
            "details": details or {},
            "message": message,
            "status": "error",
        }


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, or bytes for a raw body
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    plain: bool = False  # body is known to hold only values msgspec writes like json.dumps


class SandboxServer:
    """A Zoho-compatible CRM on loopback; serves in a background thread between start/stop."""

    def __init__(
        self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SandboxConfig()
        self.host = host
        self.port = port
        self.client_id, self.client_secret, self.refresh_token = (
            CLIENT_ID,
            CLIENT_SECRET,
            REFRESH_TOKEN,
        )
        self.clock = Clock(self.config.clock_start)
        anchor = self.config.clock_start
        self.generator = Generator(
            seed=self.config.seed,
            accounts=self.config.accounts,
            contacts=self.config.contacts,
            deals=self.config.deals,
            anchor=anchor,
        )
        self.store = Store(self.generator, self.clock.now)
        self.org_id, self.org_name = self.config.org_id, self.config.org_name
        self.time_zone = self.config.time_zone
        self.store.tz_offset_minutes = _offset_minutes(self.time_zone, self.clock.now())
        self.faults = Faults()
        self._fault_rng = random.Random(0)
        self._api_calls = 0
        self._fault_lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._stats = Stats()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.sandbox = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="crm-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI)."""
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.sandbox = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        try:
            httpd.serve_forever()
        finally:
            httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def accounts_url(self) -> str:
        return self.base_url

    # -- admin ------------------------------------------------------------------------------
    def set_clock(self, when: datetime) -> None:
        self.clock.set(when)

    def advance_clock(self, delta: timedelta) -> None:
        self.clock.advance(delta.total_seconds())

    def set_faults(
        self,
        rate_limit_every: int = 0,
        error_rate: float = 0.0,
        slow_seconds: float = 0.0,
        token_ttl_seconds: float | None = 3600,
        seed: int | None = None,
        retry_after_seconds: int = 1,
    ) -> None:
        """Replace every fault setting (unnamed ones go back to off) and restart the counters."""
        with self._fault_lock:
            self.faults = Faults(
                rate_limit_every=int(rate_limit_every or 0),
                error_rate=float(error_rate or 0.0),
                slow_seconds=float(slow_seconds or 0.0),
                token_ttl_seconds=token_ttl_seconds or None,
                seed=seed,
                retry_after_seconds=int(retry_after_seconds),
            )
            self._fault_rng = random.Random(seed if seed is not None else 0)
            self._api_calls = 0

    def set_org(self, org_id: str, org_name: str, time_zone: str | None = None) -> None:
        self.org_id, self.org_name = org_id, org_name
        if time_zone:
            self.time_zone = time_zone
            self.store.tz_offset_minutes = _offset_minutes(time_zone, self.clock.now())

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: total, by_status {int: n}, by_path, by_code (Zoho codes), by_request."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        self._stats.reset()

    def load_records(self, data: dict[str, list[dict[str, Any]]]) -> int:
        """Load Zoho-format records, keeping their ids and times when present."""
        n = 0
        for module, records in data.items():
            _check_module(module)
            for record in records:
                self.store.upsert(module, record, keep_times=True)
                n += 1
        return n

    # -- request handling (called by the handler threads) ----------------------------------
    def issue_token(self, form: dict[str, str], host: str | None = None) -> Response:
        """Zoho's refresh-token grant; errors come back as HTTP 200 with an `error` key."""
        if form.get("grant_type") != "refresh_token":
            return Response(200, {"error": "unsupported_grant_type"})
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            return Response(200, {"error": "invalid_client"})
        if form.get("refresh_token") != self.refresh_token:
            return Response(200, {"error": "invalid_code"})
        token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        with self._fault_lock:
            self._tokens[token] = time.monotonic()
            ttl = self.faults.token_ttl_seconds
        body = {
            "access_token": token,
            "scope": SCOPE,
            # the address the caller used: under docker-compose that is not the bind address
            "api_domain": f"http://{host}" if host else self.base_url,
            "token_type": "Bearer",
            "expires_in": int(ttl) if ttl else 3600,
        }
        return Response(200, body)

    def check_auth(self, header: str | None) -> None:
        if not header or not header.startswith("Zoho-oauthtoken "):
            raise ApiError(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        token = header[len("Zoho-oauthtoken ") :].strip()
        with self._fault_lock:
            issued = self._tokens.get(token)
            ttl = self.faults.token_ttl_seconds
        if issued is None or (ttl and time.monotonic() - issued > ttl):
            raise ApiError(401, "INVALID_TOKEN", "invalid oauth token")

    def inject_faults(self) -> Response | None:
        """429 every Nth API call and random 5xx, after authentication like Zoho's gateway."""
        with self._fault_lock:
            f = self.faults
            self._api_calls += 1
            calls = self._api_calls
            fail = f.error_rate > 0 and self._fault_rng.random() < f.error_rate
            status = self._fault_rng.choice((500, 502, 503)) if fail else 0
        if f.rate_limit_every and calls % f.rate_limit_every == 0:
            err = ApiError(429, "TOO_MANY_REQUESTS", "Too many requests")
            return Response(
                429, err.body, {"Retry-After": str(f.retry_after_seconds)}, "TOO_MANY_REQUESTS"
            )
        if status == 500:
            err = ApiError(500, "INTERNAL_ERROR", "Internal Server Error")
            return Response(500, err.body, code="INTERNAL_ERROR")
        if status:
            # Zoho's front end answers gateway errors with HTML, not JSON
            html = f"<html><body><h1>{status} {HTTPStatus(status).phrase}</h1></body></html>"
            return Response(status, html.encode(), {"Content-Type": "text/html"})
        return None

    def api(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Response:
        parts = [p for p in path[len(_API) :].split("/") if p]
        if not parts:
            raise _bad_url()
        if parts == ["org"] and method == "GET":
            return Response(200, self.org_payload())
        if parts[0] == "settings":
            return self._settings(method, parts, query)
        module = _check_module(parts[0])
        if len(parts) == 1:
            if method == "GET":
                return self.list_records(module, query, headers.get("If-Modified-Since"))
            if method in ("POST", "PUT"):
                return self.write(module, method, _json_body(body))
            if method == "DELETE":
                return self.delete_records(module, _param(query, "ids"))
            raise _bad_method()
        if len(parts) == 2 and parts[1] == "deleted" and method == "GET":
            return self.list_deleted(module, query, headers.get("If-Modified-Since"))
        if parts[1:] == ["actions", "count"] and method == "GET":
            # Zoho returns the count as a string.
            return Response(200, {"count": str(self.store.count(module))})
        if len(parts) == 2:
            rid = _record_id(parts[1])
            if method == "GET":
                return self.get_record(module, rid, query)
            if method == "PUT":
                payload = _json_body(body)
                for rec in payload.get("data") or []:
                    if isinstance(rec, dict):
                        rec["id"] = str(rid)
                return self.write(module, "PUT", payload)
            if method == "DELETE":
                return self.delete_records(module, str(rid))
            raise _bad_method()
        raise _bad_url()

    def org_payload(self) -> dict[str, Any]:
        return {
            "org": [
                {
                    "id": self.org_id,
                    "zgid": self.org_id,
                    "company_name": self.org_name,
                    "domain_name": "org" + "".join(c for c in self.org_id if c.isalnum()),
                    "time_zone": self.time_zone,
                    "currency": "Indian Rupee - INR",
                    "iso_code": "INR",
                    "currency_symbol": "₹",
                    "country_code": "IN",
                    "primary_email": "admin@example.com",
                    "type": "sandbox",
                }
            ]
        }

    def _settings(self, method: str, parts: list[str], query: dict[str, list[str]]) -> Response:
        if method != "GET":
            raise _bad_method()
        if parts == ["settings", "modules"]:
            return Response(200, metadata.modules_payload())
        if parts == ["settings", "fields"]:
            module = _param(query, "module")
            if not module:
                raise ApiError(
                    400,
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    {"param": "module"},
                )
            return Response(200, metadata.fields_payload(_check_module(module)))
        raise _bad_url()

    def list_records(self, module: str, query: dict[str, list[str]], ims: str | None) -> Response:
        fields = _fields(module, _param(query, "fields"), required=True)
        assert fields is not None  # required: it raised otherwise
        per_page = _int_param(query, "per_page", crm_config.PER_PAGE, 1)
        per_page = min(per_page, crm_config.PER_PAGE)
        sort_by = _param(query, "sort_by") or "id"
        if sort_by not in SORT_FIELDS:
            raise _invalid(f"sort_by must be one of {', '.join(SORT_FIELDS)}", param="sort_by")
        sort_order = _param(query, "sort_order") or "desc"
        if sort_order not in ("asc", "desc"):
            raise _invalid("sort_order must be asc or desc", param="sort_order")
        desc = sort_order == "desc"
        since = _since(ims)
        token = _param(query, "page_token")
        cfg = self.config
        with self.store.lock:
            table = self.store.table(module)
            if table.live == 0:
                return Response(204)
            view = table.view(sort_by, desc, since)
            if token:
                after_key, served = _decode_token(token, module, sort_by, desc, since)
                pos = view.after(after_key)
                page = served // per_page + 1
            else:
                page = _int_param(query, "page", 1, 1)
                if page * per_page > cfg.discrete_page_limit:
                    raise ApiError(
                        400,
                        "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                        f"cannot fetch more than {cfg.discrete_page_limit} records with the page "
                        "param; use page_token from info.next_page_token",
                        {"limit": cfg.discrete_page_limit},
                    )
                served = (page - 1) * per_page
                pos = view.lo + served
            if served >= cfg.query_record_limit:
                raise ApiError(
                    400,
                    "PAGINATION_LIMIT_EXCEEDED",
                    f"cannot fetch more than {cfg.query_record_limit} records in one query; "
                    "restart it, e.g. from the last Modified_Time seen",
                    {"limit": cfg.query_record_limit},
                )
            end = min(pos + per_page, view.hi, pos + cfg.query_record_limit - served)
            if pos >= end:
                return Response(304) if since is not None and len(view) == 0 else Response(204)
            slots = view.slots[pos:end]
            data = self.store.render_page(table, slots, fields)
            # generated records are plain by construction; written ones are checked
            plain = not table.overrides or all(
                is_plain(r) for s, r in zip(slots, data, strict=True) if s in table.overrides
            )
            more = end < view.hi
            next_token = (
                _encode_token(module, sort_by, desc, since, view.keys[end - 1], served + len(data))
                if more
                else None
            )
        expiry = iso_time(
            self.clock.now() + int(PAGE_TOKEN_TTL.total_seconds()), self.store.tz_offset_minutes
        )
        info = {
            "per_page": per_page,
            "count": len(data),
            "page": page,
            "sort_by": sort_by,
            "sort_order": sort_order,
            "more_records": more,
            "next_page_token": next_token,
            "previous_page_token": None,
            "page_token_expiry": expiry if next_token else None,
            "call": False,
            "email": False,
        }
        return Response(200, {"data": data, "info": info}, plain=plain)

    def get_record(self, module: str, rid: int, query: dict[str, list[str]]) -> Response:
        fields = _fields(module, _param(query, "fields"), required=False)
        with self.store.lock:
            table = self.store.table(module)
            slot = table.slot_of(rid)
            if slot is None:
                return Response(204)
            record = self.store.render(table, slot, fields)
        return Response(200, {"data": [record]})

    def list_deleted(self, module: str, query: dict[str, list[str]], ims: str | None) -> Response:
        kind = _param(query, "type") or "all"
        if kind not in ("all", "recycle", "permanent"):
            raise _invalid("type must be all, recycle or permanent", param="type")
        per_page = min(_int_param(query, "per_page", crm_config.PER_PAGE, 1), crm_config.PER_PAGE)
        page = _int_param(query, "page", 1, 1)
        since = _since(ims)
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
        info = {
            "per_page": per_page,
            "count": len(data),
            "page": page,
            "more_records": page * per_page < len(entries),
        }
        return Response(200, {"data": data, "info": info})

    def write(self, module: str, method: str, payload: dict[str, Any]) -> Response:
        records = payload.get("data")
        if not isinstance(records, list) or not records:
            raise ApiError(
                400, "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "data"}
            )
        if len(records) > MAX_WRITE_RECORDS:
            raise ApiError(
                400,
                "LIMIT_EXCEEDED",
                f"at most {MAX_WRITE_RECORDS} records per call",
                {"limit": MAX_WRITE_RECORDS, "api_name": "data"},
            )
        results = [self._write_one(module, method, rec) for rec in records]
        ok = sum(1 for r in results if r["status"] == "success")
        status = (201 if method == "POST" else 200) if ok == len(results) else (207 if ok else 400)
        return Response(status, {"data": results})

    def _write_one(self, module: str, method: str, rec: Any) -> dict[str, Any]:
        if not isinstance(rec, dict):
            return _record_error(
                "INVALID_DATA", "invalid data", {"expected_data_type": "jsonobject"}
            )
        known = metadata.FIELD_NAMES[module]
        for name in rec:
            if name not in known:
                return _record_error(
                    "INVALID_DATA", f"invalid field name: {name}", {"api_name": name}
                )
            if name in metadata.SYSTEM_FIELDS and name != "id":
                return _record_error("INVALID_DATA", f"{name} is read only", {"api_name": name})
        with self.store.lock:
            if method == "PUT":
                rid = rec.get("id")
                if not rid:
                    return _record_error(
                        "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "id"}
                    )
                if not str(rid).isdigit() or self.store.table(module).slot_of(int(rid)) is None:
                    return _record_error(
                        "INVALID_DATA", "the id given seems to be invalid", {"api_name": "id"}
                    )
            else:
                if "id" in rec:
                    return _record_error(
                        "INVALID_DATA", "id cannot be set on create", {"api_name": "id"}
                    )
                for name in metadata.REQUIRED_FIELDS[module]:
                    if rec.get(name) in (None, ""):
                        return _record_error(
                            "MANDATORY_NOT_FOUND", "required field not found", {"api_name": name}
                        )
            saved = self.store.upsert(module, self._resolve_lookups(module, rec))
        return {
            "code": "SUCCESS",
            "details": {
                "Modified_Time": saved["Modified_Time"],
                "Modified_By": SANDBOX_USER,
                "Created_Time": saved["Created_Time"],
                "id": saved["id"],
                "Created_By": SANDBOX_USER,
            },
            "message": "record updated" if method == "PUT" else "record added",
            "status": "success",
        }

    def _resolve_lookups(self, module: str, rec: dict[str, Any]) -> dict[str, Any]:
        """Lookups written as {"id": ...} read back as {"name": ..., "id": ...}, like Zoho."""
        out = dict(rec)
        for name, target in metadata.LOOKUPS[module].items():
            value = rec.get(name)
            if isinstance(value, dict | str) and target in metadata.FIELD_NAMES:
                rid = str(value.get("id") if isinstance(value, dict) else value)
                found = self.store.get(target, rid) if rid.isdigit() else None
                label = None if found is None else _label(found)
                out[name] = {"name": label, "id": rid}
        return out

    def delete_records(self, module: str, ids: str | None) -> Response:
        wanted = [i.strip() for i in (ids or "").split(",") if i.strip()]
        if not wanted:
            raise ApiError(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param": "ids"},
            )
        if len(wanted) > MAX_WRITE_RECORDS:
            raise ApiError(
                400,
                "LIMIT_EXCEEDED",
                f"at most {MAX_WRITE_RECORDS} ids per call",
                {"limit": MAX_WRITE_RECORDS},
            )
        results = []
        for rid in wanted:
            if rid.isdigit() and self.store.delete(module, rid):
                results.append(
                    {
                        "code": "SUCCESS",
                        "details": {"id": rid},
                        "message": "record deleted",
                        "status": "success",
                    }
                )
            else:
                results.append(
                    _record_error("INVALID_DATA", "the id given seems to be invalid", {"id": rid})
                )
        ok = sum(1 for r in results if r["status"] == "success")
        return Response(200 if ok == len(results) else (207 if ok else 400), {"data": results})

    def admin(self, method: str, path: str, body: bytes) -> Response:
        parts = [p for p in path.split("/") if p][1:]
        payload: Any = _json_body(body) if body else {}
        if method == "GET" and parts == ["health"]:
            counts = {m: self.store.count(m) for m in metadata.MODULE_NAMES}
            return Response(
                200, {"status": "ok", "now": iso_time(self.clock.now()), "counts": counts}
            )
        if method == "GET" and parts == ["stats"]:
            return Response(200, _json_keys(self.stats))
        if method == "DELETE" and parts == ["stats"]:
            self.reset_stats()
            return Response(200, {"status": "ok"})
        if method == "POST" and parts == ["clock"]:
            if "now" in payload:
                self.set_clock(datetime.fromtimestamp(parse_time(str(payload["now"])), UTC))
            if "advance_seconds" in payload:
                self.clock.advance(float(payload["advance_seconds"]))
            return Response(200, {"now": iso_time(self.clock.now())})
        if method == "POST" and parts == ["faults"]:
            allowed = set(Faults.__dataclass_fields__)
            unknown = set(payload) - allowed
            if unknown:
                raise _invalid(f"unknown fault keys: {sorted(unknown)}")
            self.set_faults(**payload)
            return Response(200, asdict(self.faults))
        if method == "POST" and parts == ["org"]:
            self.set_org(
                str(payload.get("org_id", self.org_id)),
                str(payload.get("org_name", self.org_name)),
                payload.get("time_zone"),
            )
            return Response(200, self.org_payload())
        if method == "POST" and len(parts) == 2 and parts[0] == "records":
            module = _check_module(parts[1])
            records, keep = (
                (payload, False)
                if isinstance(payload, list)
                else (
                    payload.get("data", []),
                    bool(payload.get("keep_times")),
                )
            )
            saved = [self.store.upsert(module, r, keep_times=keep) for r in records]
            return Response(200, {"data": saved})
        if method == "DELETE" and len(parts) == 3 and parts[0] == "records":
            return Response(200, {"deleted": self.store.delete(_check_module(parts[1]), parts[2])})
        raise _bad_url()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    sandbox: SandboxServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _HTTPServer
    server_version = "ZGS"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and benchmarks make hundreds of thousands of calls

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        sb = self.server.sandbox
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path.startswith("/__sandbox/"):
            self._send(_safely(lambda: sb.admin(method, path, body)))
            return
        if sb.faults.slow_seconds:
            time.sleep(sb.faults.slow_seconds)
        if path == "/oauth/v2/token":
            resp = (
                sb.issue_token(
                    _form(split.query, body, self.headers.get("Content-Type", "")),
                    self.headers.get("Host"),
                )
                if method == "POST"
                else _error_response(_bad_method())
            )
        elif path.startswith(_API):
            resp = _safely(lambda: self._api(sb, method, path, split.query, body))
        else:
            resp = _error_response(_bad_url())
        sb._stats.record(method, path, resp.status, resp.code)
        self._send(resp)

    def _api(self, sb: SandboxServer, method: str, path: str, query: str, body: bytes) -> Response:
        sb.check_auth(self.headers.get("Authorization"))
        fault = sb.inject_faults()
        if fault is not None:
            return fault
        return sb.api(method, path, parse_qs(query, keep_blank_values=True), self.headers, body)

    def _send(self, resp: Response) -> None:
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if resp.status in (204, 304):
            self.end_headers()
            return
        payload = resp.body if isinstance(resp.body, bytes) else json_bytes(resp.body, resp.plain)
        if "Content-Type" not in resp.headers:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


# -- small pure helpers ------------------------------------------------------------------------
def _safely(call: Callable[[], Response]) -> Response:
    try:
        return call()
    except ApiError as err:
        return _error_response(err)


def _error_response(err: ApiError) -> Response:
    return Response(err.status, err.body, code=err.code)


def _bad_url() -> ApiError:
    return ApiError(
        404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
    )


def _bad_method() -> ApiError:
    return ApiError(
        405, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one"
    )


def _invalid(message: str, **details: Any) -> ApiError:
    return ApiError(400, "INVALID_DATA", message, details)


def _record_error(code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"code": code, "details": details, "message": message, "status": "error"}


def _label(record: dict[str, Any]) -> str | None:
    for name in ("Account_Name", "Deal_Name", "Full_Name", "Last_Name"):
        if isinstance(record.get(name), str):
            return str(record[name])
    return None


def _check_module(module: str) -> str:
    if module not in metadata.FIELD_NAMES:
        raise ApiError(
            400,
            "INVALID_MODULE",
            "the module name given seems to be invalid",
            {"resource_path_index": 0, "module": module},
        )
    return module


def _record_id(text: str) -> int:
    if not text.isdigit():
        raise _invalid("the id given seems to be invalid", id=text)
    return int(text)


def _param(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _int_param(query: dict[str, list[str]], name: str, default: int, minimum: int) -> int:
    raw = _param(query, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(f"{name} must be an integer", param=name) from None
    if value < minimum:
        raise _invalid(f"{name} must be at least {minimum}", param=name)
    return value


def _fields(module: str, raw: str | None, *, required: bool) -> list[str] | None:
    """The requested field list, validated like Zoho (required, at most 50, all known)."""
    if raw is None or not raw.strip():
        if not required:
            return None
        raise ApiError(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            {"param": "fields"},
        )
    names = list(dict.fromkeys(f.strip() for f in raw.split(",") if f.strip()))
    if len(names) > crm_config.MAX_FIELDS_PER_CALL:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"at most {crm_config.MAX_FIELDS_PER_CALL} fields per call",
            {"param": "fields", "limit": crm_config.MAX_FIELDS_PER_CALL},
        )
    known = metadata.FIELD_NAMES[module]
    for name in names:
        if name not in known:
            raise _invalid(f"invalid field name: {name} (not a field of {module})", api_name=name)
    return names


def _since(header: str | None) -> int | None:
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
        raise ApiError(
            400,
            "INVALID_DATA",
            "If-Modified-Since is not a valid date",
            {"header": "If-Modified-Since"},
        ) from None


def _encode_token(
    module: str, sort_by: str, desc: bool, since: int | None, key: int, served: int
) -> str:
    raw = f"1|{module}|{sort_by}|{int(desc)}|{'' if since is None else since}|{key}|{served}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(
    token: str, module: str, sort_by: str, desc: bool, since: int | None
) -> tuple[int, int]:
    """(sort key of the last record served, records served so far) of a page token."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        version, t_module, t_sort, t_desc, t_since, key, served = raw.split("|")
        same = (t_module, t_sort, t_desc, t_since) == (
            module,
            sort_by,
            str(int(desc)),
            "" if since is None else str(since),
        )
        if version != "1" or not same:
            raise ValueError("token of another query")
        return int(key), int(served)
    except ValueError:
        raise _invalid(
            "invalid page_token (it belongs to another module, sort or If-Modified-Since)",
            param="page_token",
        ) from None


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise _invalid("body is not valid JSON", api_name="body") from None


def _json_keys(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_keys(v) for k, v in obj.items()}
    return obj


def _form(query: str, body: bytes, content_type: str) -> dict[str, str]:
    """Token endpoint parameters: Zoho accepts them in the query string or a form body."""
    merged = {k: v[0] for k, v in parse_qs(query).items()}
    if body and "json" not in content_type:
        merged.update({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
    return merged


def _epoch(when: datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def _offset_minutes(time_zone: str, at: int) -> int:
    offset = datetime.fromtimestamp(at, ZoneInfo(time_zone)).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0
