"""The sandbox server: builds the parts of a Zoho-compatible CRM and serves them over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crm_books import config as crm_config
from zoho_sandbox import admin, profiles
from zoho_sandbox.bulk_read import BULK_PREFIX, BulkRead
from zoho_sandbox.clock import Clock, offset_minutes
from zoho_sandbox.errors import bad_method, bad_url, safely
from zoho_sandbox.faults import Faults, FaultSwitch
from zoho_sandbox.generator import Generator
from zoho_sandbox.http_server import HTTPServer, http_server
from zoho_sandbox.limits import ConcurrencyGate, CreditGate, LatencyGate
from zoho_sandbox.messages import Request, Response
from zoho_sandbox.oauth import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TOKEN_PATH, TokenIssuer
from zoho_sandbox.org_settings import Org
from zoho_sandbox.params import check_module
from zoho_sandbox.profiles import Gate, Knobs, KnobSwitch
from zoho_sandbox.record_reads import Limits, RecordReads
from zoho_sandbox.record_writes import RecordWrites
from zoho_sandbox.routes import API_PREFIX, CrmApi
from zoho_sandbox.stats import Stats
from zoho_sandbox.store import Store

__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "REFRESH_TOKEN",
    "Faults",
    "SandboxConfig",
    "SandboxServer",
]


@dataclass(frozen=True)
class SandboxConfig:
    """What the sandbox serves. Sizes are generated records per module; limits are Zoho's;
    the profile names the knobs' defaults ("default" or "zoho"), `knobs` overrides some."""

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
    profile: str = "default"
    knobs: Mapping[str, Any] = field(default_factory=dict)


class SandboxServer:
    """A Zoho-compatible CRM on loopback; serves in a background thread between start/stop."""

    def __init__(
        self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = cfg = config or SandboxConfig()
        self.host, self.port = host, port
        self.clock = Clock(cfg.clock_start)
        self.generator = Generator(
            seed=cfg.seed,
            accounts=cfg.accounts,
            contacts=cfg.contacts,
            deals=cfg.deals,
            anchor=cfg.clock_start,
        )
        self.store = Store(self.generator, self.clock.now)
        self.org = Org(cfg.org_id, cfg.org_name, cfg.time_zone)
        self.store.tz_offset_minutes = offset_minutes(cfg.time_zone, self.clock.now())
        self._stats = Stats()
        self.knob_switch = KnobSwitch(cfg.profile, dict(cfg.knobs))
        usage = self._stats.usage
        self.tokens = TokenIssuer(self._knobs, usage)
        self.client_id, self.client_secret, self.refresh_token = (
            self.tokens.client_id,
            self.tokens.client_secret,
            self.tokens.refresh_token,
        )
        self._faults = FaultSwitch()
        # refusals of Zoho's caps come first; latency last, holding the call's slot
        self._api_gates: tuple[Gate, ...] = (
            ConcurrencyGate(self._knobs, usage),
            CreditGate(self._knobs, usage),
            self._faults,
            LatencyGate(self._knobs, cfg.seed),
        )
        limits = Limits(cfg.discrete_page_limit, cfg.query_record_limit)
        reads = RecordReads(self.store, self.clock.now, limits)
        writes = RecordWrites(self.store, lambda: self._knobs().validate_writes)
        self.crm = CrmApi(self.store, self.org, reads, writes)
        self.bulk = BulkRead(self.store, self._knobs, usage, self.clock.now)
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def _bind(self) -> HTTPServer:
        self._httpd = httpd = http_server(self, self.host, self.port)
        self.port = httpd.server_address[1]
        return httpd

    def start(self) -> SandboxServer:
        httpd = self._bind()
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
        httpd = self._bind()
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

    # -- requests (called by the handler threads) --------------------------------------------
    def respond(self, request: Request) -> Response:
        """The response to one request: admin calls, the token endpoint or the CRM API."""
        if request.path.startswith(admin.ADMIN_PREFIX):
            return safely(lambda: admin.handle(self, request))
        if self.faults.slow_seconds:
            time.sleep(self.faults.slow_seconds)
        if request.path == TOKEN_PATH:
            resp = self._token(request)
        elif request.path.startswith(API_PREFIX):
            resp = safely(lambda: self._api(request, self.crm.handle))
        elif request.path == BULK_PREFIX or request.path.startswith(BULK_PREFIX + "/"):
            resp = safely(lambda: self._api(request, self.bulk.handle))
        else:
            resp = bad_url().response()
        self._stats.record(request.method, request.path, resp.status, resp.code)
        return resp

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            return bad_method().response()
        return self._grant(request)

    def _grant(self, request: Request) -> Response:
        # the address the caller used: under docker-compose that is not the bind address
        host = request.headers.get("Host")
        domain = f"http://{host}" if host else self.base_url
        return self.tokens.grant(request, domain, self.faults.token_ttl_seconds)

    def _api(self, request: Request, endpoint: Callable[[Request], Response]) -> Response:
        started = time.monotonic()
        self.tokens.check(request.headers.get("Authorization"), self.faults.token_ttl_seconds)
        resp = self._through(self._api_gates, request, endpoint)
        since = request.headers.get("If-Modified-Since")
        self._stats.timeline.record(
            started, request.method, request.path, request.query, since, resp.status
        )
        return resp

    @staticmethod
    def _through(
        gates: tuple[Gate, ...], request: Request, endpoint: Callable[[Request], Response]
    ) -> Response:
        """The endpoint's response if every gate admits the call, else the first refusal."""
        refusal, admitted = profiles.admit(gates, request)
        try:
            return refusal if refusal is not None else endpoint(request)
        finally:
            profiles.release(gates[:admitted], request)

    # -- admin ------------------------------------------------------------------------------
    def _knobs(self) -> Knobs:
        return self.knob_switch.knobs

    @property
    def knobs(self) -> Knobs:
        """Zoho's limits in force (the profile's defaults and any overrides)."""
        return self.knob_switch.knobs

    def set_knobs(self, profile: str | None = None, **settings: Any) -> Knobs:
        """Switch to a profile's defaults (when named), then set the given knobs."""
        return self.knob_switch.set(profile, settings)

    @property
    def faults(self) -> Faults:
        return self._faults.settings

    def set_clock(self, when: datetime) -> None:
        self.clock.set(when)

    def advance_clock(self, delta: timedelta) -> None:
        self.clock.advance(delta.total_seconds())

    def set_faults(self, **settings: Any) -> None:
        """Replace every fault setting (unnamed ones go back to off) and restart the counters."""
        self._faults.set(Faults.of(**settings))

    def set_org(self, org_id: str, org_name: str, time_zone: str | None = None) -> None:
        self.org.id, self.org.name = org_id, org_name
        if time_zone:
            self.org.time_zone = time_zone
            self.store.tz_offset_minutes = offset_minutes(time_zone, self.clock.now())

    @property
    def org_id(self) -> str:
        return self.org.id

    @property
    def org_name(self) -> str:
        return self.org.name

    @property
    def time_zone(self) -> str:
        return self.org.time_zone

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: total, by_status {int: n}, by_path, by_code (Zoho codes), by_request, and
        usage: token grants, calls in flight and their peak, credits, Bulk Read jobs, refusals."""
        return self._stats.snapshot()

    @property
    def timeline(self) -> list[dict[str, Any]]:
        """The latest API calls since the stats were reset (zoho_sandbox/stats.py Timeline)."""
        return self._stats.timeline.snapshot()

    def reset_stats(self) -> None:
        self._stats.reset()

    def load_records(self, data: dict[str, list[dict[str, Any]]]) -> int:
        """Load Zoho-format records, keeping their ids and times when present."""
        n = 0
        for module, records in data.items():
            check_module(module)
            for record in records:
                self.store.upsert(module, record, keep_times=True)
                n += 1
        return n
