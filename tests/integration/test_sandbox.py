"""The CRM sandbox over real HTTP on loopback: Zoho's envelopes, limits, clock and faults."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from crm_books import config
from tests.integration.sandbox_client import TIMEOUT, Api, access_token
from zoho_sandbox import SandboxConfig, SandboxServer, metadata
from zoho_sandbox.process import stop

ACCOUNT_FIELDS = ",".join(config.MODULE_FIELDS[config.ACCOUNTS])


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    cfg = SandboxConfig(**getattr(request, "param", {}))
    with SandboxServer(cfg) as sb:
        yield sb


@pytest.fixture
def api(sandbox: SandboxServer) -> Api:
    return Api(sandbox)


def sandbox_config(**kwargs: Any) -> pytest.MarkDecorator:
    """Runs a test against a sandbox built with these SandboxConfig arguments."""
    return pytest.mark.parametrize("sandbox", [kwargs], indirect=True, ids=["config"])


def read_all(api: Api, module: str, fields: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Pages by `page` up to the discrete limit, then by page_token; returns (records, calls)."""
    limit = api.sb.config.discrete_page_limit
    per_page = int(params.pop("per_page", 200))
    out: list[dict[str, Any]] = []
    page, token, calls = 1, None, 0
    while True:
        query = {"fields": fields, "per_page": per_page, **params}
        if token:
            query["page_token"] = token
        else:
            query["page"] = page
        resp = api.get(f"/crm/v8/{module}", params=query)
        calls += 1
        if resp.status_code == 204:
            return out, calls
        assert resp.status_code == 200, resp.text
        body = resp.json()
        out.extend(body["data"])
        if not body["info"]["more_records"]:
            return out, calls
        if (page + 1) * per_page > limit or token:
            token = body["info"]["next_page_token"]
        else:
            page += 1


# -- OAuth -------------------------------------------------------------------------------------
def test_token_flow_and_bad_credentials(sandbox: SandboxServer) -> None:
    s = requests.Session()
    url = f"{sandbox.accounts_url}/oauth/v2/token"
    good = {
        "grant_type": "refresh_token",
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "refresh_token": sandbox.refresh_token,
    }
    body = s.post(url, data=good, timeout=TIMEOUT).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["api_domain"] == sandbox.base_url  # the Host the caller used
    assert s.post(url, data={**good, "client_secret": "nope"}, timeout=TIMEOUT).json() == {
        "error": "invalid_client"
    }
    assert s.post(url, data={**good, "refresh_token": "nope"}, timeout=TIMEOUT).json() == {
        "error": "invalid_code"
    }
    ok = s.get(
        f"{sandbox.base_url}/crm/v8/org",
        headers={"Authorization": f"Zoho-oauthtoken {body['access_token']}"},
        timeout=TIMEOUT,
    )
    assert ok.status_code == 200


def test_missing_garbled_and_unknown_tokens_are_401(sandbox: SandboxServer) -> None:
    url = f"{sandbox.base_url}/crm/v8/Accounts?fields=Account_Name"
    missing = requests.get(url, timeout=TIMEOUT)
    assert missing.status_code == 401 and missing.json()["code"] == "AUTHENTICATION_FAILURE"
    garbled = requests.get(url, headers={"Authorization": "Bearer abc"}, timeout=TIMEOUT)
    assert garbled.status_code == 401 and garbled.json()["code"] == "AUTHENTICATION_FAILURE"
    unknown = requests.get(
        url, headers={"Authorization": "Zoho-oauthtoken 1000.abc.def"}, timeout=TIMEOUT
    )
    assert unknown.status_code == 401
    assert unknown.json() == {
        "code": "INVALID_TOKEN",
        "details": {},
        "message": "invalid oauth token",
        "status": "error",
    }


def test_tokens_expire_after_the_configured_ttl(sandbox: SandboxServer, api: Api) -> None:
    assert api.get("/crm/v8/org").status_code == 200
    sandbox.set_faults(token_ttl_seconds=0.3)
    time.sleep(0.5)
    expired = api.get("/crm/v8/org")
    assert expired.status_code == 401 and expired.json()["code"] == "INVALID_TOKEN"
    api.token = access_token(sandbox, api.session)
    assert api.get("/crm/v8/org").status_code == 200


# -- record listing ----------------------------------------------------------------------------
def test_fields_is_required_limited_to_50_and_checked(api: Api) -> None:
    missing = api.get("/crm/v8/Accounts")
    assert missing.status_code == 400
    assert missing.json()["code"] == "REQUIRED_PARAM_MISSING"
    too_many = api.get("/crm/v8/Accounts", params={"fields": ",".join(f"F{i}" for i in range(51))})
    assert too_many.status_code == 400 and too_many.json()["code"] == "LIMIT_EXCEEDED"
    unknown = api.get("/crm/v8/Accounts", params={"fields": "Account_Name,Shoe_Size"})
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "INVALID_DATA"
    assert "Shoe_Size" in unknown.json()["message"]
    assert unknown.json()["details"] == {"api_name": "Shoe_Size"}
    module = api.get("/crm/v8/Leadz", params={"fields": "id"})
    assert module.status_code == 400 and module.json()["code"] == "INVALID_MODULE"


def test_only_requested_fields_and_zoho_shapes(api: Api) -> None:
    resp = api.get(
        "/crm/v8/Contacts",
        params={"fields": "Last_Name,Account_Name,Modified_Time", "per_page": 50},
    )
    body = resp.json()
    assert resp.status_code == 200
    assert set(body["info"]) >= {
        "per_page",
        "count",
        "page",
        "sort_by",
        "sort_order",
        "more_records",
        "next_page_token",
        "previous_page_token",
        "page_token_expiry",
    }
    assert body["info"]["count"] == len(body["data"]) == 50
    for rec in body["data"]:
        assert set(rec) == {"id", "Last_Name", "Account_Name", "Modified_Time"}
        assert len(rec["id"]) == 19 and rec["id"].isdigit()
        assert rec["Modified_Time"].endswith("+05:30")  # the org's time zone, Asia/Kolkata
        if rec["Account_Name"] is not None:
            assert set(rec["Account_Name"]) == {"name", "id"}


@sandbox_config(accounts=2345, contacts=0, deals=0)
def test_more_than_2000_records_read_exactly_once(api: Api) -> None:
    records, calls = read_all(
        api, "Accounts", ACCOUNT_FIELDS, sort_by="Modified_Time", sort_order="asc"
    )
    ids = [r["id"] for r in records]
    assert len(ids) == 2345 and len(set(ids)) == 2345
    assert calls == 12  # ten pages by number, two by token
    times = [datetime.fromisoformat(r["Modified_Time"]) for r in records]
    assert times == sorted(times)


@sandbox_config(accounts=2200, contacts=0, deals=0)
def test_page_beyond_the_discrete_limit_is_refused(api: Api) -> None:
    resp = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "page": 11})
    assert resp.status_code == 400
    assert resp.json()["code"] == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"


@sandbox_config(accounts=120, contacts=0, deals=0, discrete_page_limit=20, query_record_limit=50)
def test_query_limit_then_restart_from_last_modified_time(api: Api) -> None:
    params = {"sort_by": "Modified_Time", "sort_order": "asc", "per_page": 10}
    first, _ = _read_until_limit(api, params, None)
    assert len(first) == 50
    # a fresh query from the last Modified_Time seen continues; overlap is by design
    seen = {r["id"] for r in first}
    since = first[-1]["Modified_Time"]
    while True:
        more, done = _read_until_limit(api, params, since)
        seen.update(r["id"] for r in more)
        if done:
            break
        since = more[-1]["Modified_Time"]
    assert len(seen) == 120


def _read_until_limit(
    api: Api, params: dict[str, Any], since: str | None
) -> tuple[list[dict[str, Any]], bool]:
    """Reads one query until PAGINATION_LIMIT_EXCEEDED (False) or the end (True)."""
    out: list[dict[str, Any]] = []
    headers = {"If-Modified-Since": since} if since else {}
    page, token = 1, None
    while True:
        q = {"fields": "Account_Name,Modified_Time", **params}
        q.update({"page_token": token} if token else {"page": page})
        resp = api.get("/crm/v8/Accounts", params=q, headers=headers)
        if resp.status_code == 400:
            assert resp.json()["code"] == "PAGINATION_LIMIT_EXCEEDED"
            return out, False
        body = resp.json()
        out.extend(body["data"])
        if not body["info"]["more_records"]:
            return out, True
        if (page + 1) * 10 > 20 or token:
            token = body["info"]["next_page_token"]
        else:
            page += 1


def test_page_token_survives_modifications_mid_iteration(sandbox: SandboxServer, api: Api) -> None:
    first = api.get(
        "/crm/v8/Contacts",
        params={"fields": "Last_Name", "sort_by": "id", "sort_order": "asc", "per_page": 100},
    ).json()
    # records on the next pages change while the client is between pages
    untouched = sandbox.store.get(config.CONTACTS, first["data"][-1]["id"])
    assert untouched is not None
    for rec in first["data"][:5]:
        sandbox.store.upsert(config.CONTACTS, {"id": rec["id"], "Last_Name": "Changed"})
    rest, _ = read_all_tokens(api, first["info"]["next_page_token"])
    ids = [r["id"] for r in first["data"]] + [r["id"] for r in rest]
    assert len(ids) == len(set(ids)) == 300


def read_all_tokens(api: Api, token: str) -> tuple[list[dict[str, Any]], int]:
    out: list[dict[str, Any]] = []
    calls = 0
    while token:
        resp = api.get(
            "/crm/v8/Contacts",
            params={
                "fields": "Last_Name",
                "sort_by": "id",
                "sort_order": "asc",
                "per_page": 100,
                "page_token": token,
            },
        )
        calls += 1
        body = resp.json()
        out.extend(body["data"])
        token = body["info"]["next_page_token"]
    return out, calls


def test_sort_order_and_sort_by(api: Api) -> None:
    for sort_by in ("id", "Created_Time", "Modified_Time"):
        for order in ("asc", "desc"):
            data = api.get(
                "/crm/v8/Deals",
                params={
                    "fields": "Created_Time,Modified_Time",
                    "sort_by": sort_by,
                    "sort_order": order,
                },
            ).json()["data"]
            key = [
                int(r["id"]) if sort_by == "id" else datetime.fromisoformat(r[sort_by])
                for r in data
            ]
            assert key == sorted(key, reverse=order == "desc"), (sort_by, order)
    bad = api.get("/crm/v8/Deals", params={"fields": "Stage", "sort_by": "Amount"})
    assert bad.status_code == 400


# -- incremental reads -------------------------------------------------------------------------
@sandbox_config(clock_start=datetime(2026, 11, 20, tzinfo=UTC))
def test_if_modified_since_filters_and_304(sandbox: SandboxServer, api: Api) -> None:
    later = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    nothing = api.get(
        "/crm/v8/Accounts",
        params={"fields": "Account_Name"},
        headers={"If-Modified-Since": format_datetime(later, usegmt=True)},
    )
    assert nothing.status_code == 304 and nothing.content == b""
    sandbox.set_clock(later + timedelta(hours=1))
    changed = sandbox.store.upsert(config.ACCOUNTS, {"Account_Name": "New Co"})
    iso = api.get(
        "/crm/v8/Accounts",
        params={"fields": "Account_Name,Modified_Time"},
        headers={"If-Modified-Since": "2026-11-25T17:30:00+05:30"},  # the same moment as `later`
    )
    assert iso.status_code == 200
    assert [r["id"] for r in iso.json()["data"]] == [changed["id"]]
    assert iso.json()["data"][0]["Modified_Time"] == "2026-11-25T18:30:00+05:30"
    # Modified_Time >= If-Modified-Since: the boundary is included
    exact = api.get(
        "/crm/v8/Accounts",
        params={"fields": "Account_Name"},
        headers={"If-Modified-Since": "2026-11-25T13:00:00Z"},
    )
    assert [r["id"] for r in exact.json()["data"]] == [changed["id"]]


@sandbox_config(accounts=0, contacts=0, deals=0)
def test_empty_module_is_204(api: Api) -> None:
    resp = api.get("/crm/v8/Accounts", params={"fields": "Account_Name"})
    assert resp.status_code == 204 and resp.content == b""
    assert api.get("/crm/v8/Accounts/deleted").status_code == 204


@sandbox_config(clock_start=datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
def test_deleted_records_listing(sandbox: SandboxServer, api: Api) -> None:
    victim = api.get("/crm/v8/Accounts", params={"fields": "Account_Name", "per_page": 1}).json()
    rid = victim["data"][0]["id"]
    resp = api.call("DELETE", "/crm/v8/Accounts", params={"ids": rid})
    assert resp.json()["data"][0]["code"] == "SUCCESS"
    assert api.get(f"/crm/v8/Accounts/{rid}").status_code == 204
    since = {"If-Modified-Since": "2026-11-26T08:59:00Z"}
    recent = api.get("/crm/v8/Accounts/deleted", params={"type": "all"}, headers=since).json()
    assert [d["id"] for d in recent["data"]] == [rid]
    entry = recent["data"][0]
    assert entry["type"] == "recycle" and entry["display_name"]
    assert entry["deleted_time"] == "2026-11-26T14:30:00+05:30"
    everything = api.get("/crm/v8/Accounts/deleted", params={"type": "all"}).json()["data"]
    assert {d["type"] for d in everything} == {"recycle", "permanent"}
    recycle = api.get("/crm/v8/Accounts/deleted", params={"type": "recycle"}).json()["data"]
    assert {d["type"] for d in recycle} == {"recycle"}
    after = {"If-Modified-Since": "2026-11-26T10:00:00Z"}
    assert api.get("/crm/v8/Accounts/deleted", headers=after).status_code == 304


# -- org and metadata --------------------------------------------------------------------------
def test_org_and_set_org(sandbox: SandboxServer, api: Api) -> None:
    org = api.get("/crm/v8/org").json()["org"][0]
    assert org["id"] == "sandbox-org-1" and org["company_name"] == "Sandbox Org"
    sandbox.set_org("other-org", "Other Org")
    assert api.get("/crm/v8/org").json()["org"][0]["id"] == "other-org"


def test_metadata_covers_the_fields_the_product_reads(api: Api) -> None:
    modules = api.get("/crm/v8/settings/modules").json()["modules"]
    assert {m["api_name"] for m in modules} >= set(config.MODULE_FIELDS)
    assert all(m["api_supported"] for m in modules)
    for module, wanted in config.MODULE_FIELDS.items():
        fields = api.get("/crm/v8/settings/fields", params={"module": module}).json()["fields"]
        by_name = {f["api_name"]: f for f in fields}
        assert set(wanted) <= set(by_name)
        assert {"Owner", "Created_By"} <= set(by_name)
        for f in fields:
            assert {"api_name", "data_type", "json_type", "field_label", "length"} <= set(f)
    contacts = api.get("/crm/v8/settings/fields", params={"module": "Contacts"}).json()["fields"]
    lookup = next(f for f in contacts if f["api_name"] == "Account_Name")
    assert lookup["data_type"] == "lookup" and lookup["lookup"]["module"]["api_name"] == "Accounts"
    assert api.get("/crm/v8/settings/fields", params={"module": "Nope"}).status_code == 400


# -- writes ------------------------------------------------------------------------------------
@sandbox_config(clock_start=datetime(2026, 11, 26, 8, 30, tzinfo=UTC))
def test_writes_use_the_settable_clock(sandbox: SandboxServer, api: Api) -> None:
    created = api.call(
        "POST", "/crm/v8/Accounts", json={"data": [{"Account_Name": "Clockwork Ltd"}]}
    )
    assert created.status_code == 201
    result = created.json()["data"][0]
    assert result["code"] == "SUCCESS" and result["message"] == "record added"
    rid = result["details"]["id"]
    assert len(rid) == 19 and result["details"]["Modified_Time"] == "2026-11-26T14:00:00+05:30"
    sandbox.advance_clock(timedelta(hours=2))
    updated = api.call(
        "PUT", "/crm/v8/Accounts", json={"data": [{"id": rid, "Phone": "+91 1"}]}
    ).json()["data"][0]
    assert updated["message"] == "record updated"
    rec = api.get(f"/crm/v8/Accounts/{rid}").json()["data"][0]
    assert rec["Phone"] == "+91 1" and rec["Account_Name"] == "Clockwork Ltd"
    assert rec["Created_Time"] == "2026-11-26T14:00:00+05:30"
    assert rec["Modified_Time"] == "2026-11-26T16:00:00+05:30"
    bad = api.call("POST", "/crm/v8/Contacts", json={"data": [{"First_Name": "No Last"}]})
    assert bad.status_code == 400
    assert bad.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"
    missing = api.call("PUT", "/crm/v8/Accounts", json={"data": [{"id": "1", "Phone": "2"}]})
    assert missing.json()["data"][0]["code"] == "INVALID_DATA"


def test_admin_http_endpoints(sandbox: SandboxServer, api: Api) -> None:
    base = f"{sandbox.base_url}/__sandbox"
    s = requests.Session()
    assert s.get(f"{base}/health", timeout=TIMEOUT).json()["status"] == "ok"
    now = s.post(f"{base}/clock", json={"now": "2026-12-01T00:00:00Z"}, timeout=TIMEOUT).json()
    assert now["now"] == "2026-12-01T00:00:00+00:00"
    s.post(f"{base}/clock", json={"advance_seconds": 60}, timeout=TIMEOUT)
    saved = s.post(
        f"{base}/records/Deals",
        json=[{"Deal_Name": "Admin deal", "Stage": "Closed Won"}],
        timeout=TIMEOUT,
    ).json()["data"][0]
    assert saved["Modified_Time"] == "2026-12-01T05:31:00+05:30"
    assert api.get(f"/crm/v8/Deals/{saved['id']}").json()["data"][0]["Stage"] == "Closed Won"
    assert s.delete(f"{base}/records/Deals/{saved['id']}", timeout=TIMEOUT).json()["deleted"]
    s.post(f"{base}/org", json={"org_id": "o2", "org_name": "Two"}, timeout=TIMEOUT)
    assert api.get("/crm/v8/org").json()["org"][0]["company_name"] == "Two"
    s.post(f"{base}/faults", json={"rate_limit_every": 1}, timeout=TIMEOUT)
    assert api.get("/crm/v8/org").status_code == 429
    stats = s.get(f"{base}/stats", timeout=TIMEOUT).json()
    assert stats["by_status"]["429"] == 1 and stats["by_path"]["/crm/v8/org"] == 2


# -- faults ------------------------------------------------------------------------------------
def test_rate_limit_every_nth_request(sandbox: SandboxServer, api: Api) -> None:
    sandbox.set_faults(rate_limit_every=3, retry_after_seconds=2)
    statuses = [api.get("/crm/v8/org") for _ in range(7)]
    assert [r.status_code for r in statuses] == [200, 200, 429, 200, 200, 429, 200]
    limited = statuses[2]
    assert limited.headers["Retry-After"] == "2"
    assert limited.json()["code"] == "TOO_MANY_REQUESTS"
    assert sandbox.stats["by_status"][429] == 2


def test_random_server_errors_are_seeded(sandbox: SandboxServer, api: Api) -> None:
    def run() -> list[int]:
        sandbox.set_faults(error_rate=0.5, seed=11)
        return [api.get("/crm/v8/org").status_code for _ in range(40)]

    first = run()
    assert first == run()  # same seed, same faults
    assert set(first) - {200} <= {500, 502, 503} and len(set(first)) >= 3
    sandbox.set_faults()
    assert {api.get("/crm/v8/org").status_code for _ in range(10)} == {200}


def test_slow_responses(sandbox: SandboxServer, api: Api) -> None:
    sandbox.set_faults(slow_seconds=0.4)
    start = time.monotonic()
    assert api.get("/crm/v8/org").status_code == 200
    assert time.monotonic() - start >= 0.4
    with pytest.raises(requests.Timeout):
        api.session.get(f"{sandbox.base_url}/crm/v8/org", timeout=0.1)


# -- CLI ---------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_serve_starts_and_answers(tmp_path: Any) -> None:
    port = _free_port()
    data = tmp_path / "crm.json"
    data.write_text(
        '{"Accounts": [{"id": "5843104000000123456", "Account_Name": "From File", '
        '"Modified_Time": "2026-01-02T03:04:05+00:00"}]}',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(["plugins", os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zoho_sandbox",
            "serve",
            "--port",
            str(port),
            "--data",
            str(data),
            "--contacts",
            "5",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        health = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = requests.get(f"{base}/__sandbox/health", timeout=1).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert health is not None, proc.stderr.read().decode() if proc.stderr else ""
        assert health["counts"] == {"Accounts": 1, "Contacts": 5, "Deals": 0}
        sb = type(
            "Cli",
            (),
            {
                "accounts_url": base,
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
                "refresh_token": "sandbox-refresh",
            },
        )
        token = access_token(sb, requests.Session())  # type: ignore[arg-type]
        rec = requests.get(
            f"{base}/crm/v8/Accounts/5843104000000123456",
            headers={"Authorization": f"Zoho-oauthtoken {token}"},
            timeout=TIMEOUT,
        ).json()["data"][0]
        assert rec["Account_Name"] == "From File"
        assert rec["Modified_Time"] == "2026-01-02T08:34:05+05:30"
    finally:
        stop(proc, timeout=10)


def test_lookups_written_by_id_read_back_with_the_target_name(api: Api) -> None:
    account = api.call(
        "POST", "/crm/v8/Accounts", json={"data": [{"Account_Name": "Lookup Target Ltd"}]}
    ).json()["data"][0]["details"]["id"]
    contact = api.call(
        "POST",
        "/crm/v8/Contacts",
        json={"data": [{"Last_Name": "Linked", "Account_Name": {"id": account}}]},
    ).json()["data"][0]["details"]["id"]
    rec = api.get(f"/crm/v8/Contacts/{contact}", params={"fields": "Account_Name"}).json()
    assert rec["data"][0]["Account_Name"] == {"name": "Lookup Target Ltd", "id": account}


def test_a_deleted_id_loaded_again_is_served_again(sandbox: SandboxServer, api: Api) -> None:
    rid = api.get("/crm/v8/Deals", params={"fields": "Stage", "per_page": 1}).json()["data"][0]
    assert sandbox.store.delete(config.DEALS, rid["id"])
    assert sandbox.store.get(config.DEALS, rid["id"]) is None
    sandbox.store.upsert(
        config.DEALS, {"id": rid["id"], "Deal_Name": "Back", "Stage": "Closed Won"}
    )
    back = api.get(f"/crm/v8/Deals/{rid['id']}").json()["data"][0]
    assert back["Deal_Name"] == "Back" and sandbox.store.count(config.DEALS) == 50


# -- the wire format of pages (msgspec fast path, json fallback) ---------------------------------
def _as_json_dumps(content: bytes) -> bytes:
    """The body as json.dumps(ensure_ascii=False, compact) would have written it."""
    return json.dumps(json.loads(content), ensure_ascii=False, separators=(",", ":")).encode()


def _all_fields(module: str) -> str:
    return ",".join(list(metadata.FIELD_NAMES[module])[: config.MAX_FIELDS_PER_CALL])


@sandbox_config(accounts=700, contacts=900, deals=400)
def test_pages_are_byte_for_byte_what_json_dumps_writes(api: Api) -> None:
    odd = {
        "Account_Name": 'Odd "values" \\ \u2028 \x01 \t é 🚀 שלום',
        "Annual_Revenue": 1e-05,  # msgspec alone would write 0.00001
        "Employees": 2**70,
        "Description": {"nested": [1e16, -0.0, 0.0001, None, True, "ü"]},  # 1e+16 in json
    }
    written = api.call("POST", "/crm/v8/Accounts", json={"data": [odd]})
    assert written.status_code == 201, written.text
    not_a_number = api.call(
        "POST",
        "/crm/v8/Accounts",
        data=b'{"data": [{"Account_Name": "NaN Ltd", "Annual_Revenue": NaN}]}',
        headers={"Content-Type": "application/json"},
    )
    assert not_a_number.status_code == 201, not_a_number.text
    for module in ("Accounts", "Contacts", "Deals"):
        for sort_order in ("asc", "desc"):
            resp = api.get(
                f"/crm/v8/{module}",
                params={
                    "fields": _all_fields(module),
                    "sort_by": "Modified_Time",
                    "sort_order": sort_order,
                },
            )
            assert resp.status_code == 200
            assert resp.content == _as_json_dumps(resp.content), module
    newest = api.get(
        "/crm/v8/Accounts",
        params={"fields": _all_fields("Accounts"), "sort_by": "id", "sort_order": "desc"},
    )
    names = [r["Account_Name"] for r in newest.json()["data"][:2]]
    assert names == ["NaN Ltd", odd["Account_Name"]]
    assert b'"Annual_Revenue":NaN' in newest.content and b'"Annual_Revenue":1e-05' in newest.content
    assert b"1e+16" in newest.content and newest.content == _as_json_dumps(newest.content)


@sandbox_config(accounts=300, contacts=500, deals=200)
def test_records_in_pages_equal_records_read_one_by_one(sandbox: SandboxServer, api: Api) -> None:
    sandbox.store.upsert(config.CONTACTS, {"Last_Name": "Written", "Email": "w@example.com"})
    for time_zone in ("Asia/Kolkata", "America/St_Johns", "UTC"):
        sandbox.set_org("sandbox-org-1", "Sandbox Org", time_zone)
        for module in ("Accounts", "Contacts", "Deals"):
            fields = "Modified_Time,Owner,id," + _all_fields(module)
            page = api.get(
                f"/crm/v8/{module}", params={"fields": fields, "sort_by": "id", "per_page": 200}
            ).json()["data"]
            assert len(page) == 200
            for record in page[::7] + page[-1:]:
                one = api.get(f"/crm/v8/{module}/{record['id']}", params={"fields": fields})
                assert list(record.items()) == list(one.json()["data"][0].items())
            assert page[0]["Owner"]["name"] == "Sandbox Admin"


# -- text UTF-8 cannot carry: stored as written, served as JSON escapes, as Zoho does ---------------
_UNPAIRED = "Lone \ud800 surrogate"


def test_a_lone_surrogate_written_is_stored_and_every_page_holding_it_is_served(
    sandbox: SandboxServer, api: Api
) -> None:
    # requests writes the value as the JSON escape \ud800, which is how it reaches Zoho too.
    created = api.call(
        "POST", "/crm/v8/Accounts", json={"data": [{"Account_Name": _UNPAIRED, "Phone": "1"}]}
    )
    assert created.status_code == 201, created.text
    rid = created.json()["data"][0]["details"]["id"]
    updated = api.call(
        "PUT", f"/crm/v8/Accounts/{rid}", json={"data": [{"Phone": "NUL \x00 and \udcff"}]}
    )
    assert updated.status_code == 200, updated.text

    page = api.get("/crm/v8/Accounts", params={"fields": ACCOUNT_FIELDS, "per_page": 200})
    assert page.status_code == 200
    page.content.decode("utf-8")  # valid UTF-8: the surrogates travel as escapes
    assert b'"Lone \\ud800 surrogate"' in page.content
    assert b'"NUL \\u0000 and \\udcff"' in page.content
    served = {r["id"]: r for r in page.json()["data"]}
    assert served[rid]["Account_Name"] == _UNPAIRED
    assert served[rid]["Phone"] == "NUL \x00 and \udcff"
    # the generated records on the same page are served too
    assert len(served) == sandbox.store.count(config.ACCOUNTS) == 101
    one = api.get(f"/crm/v8/Accounts/{rid}", params={"fields": "Account_Name"})
    assert one.status_code == 200 and one.json()["data"][0]["Account_Name"] == _UNPAIRED
    assert sandbox.store.get(config.ACCOUNTS, rid)["Account_Name"] == _UNPAIRED  # type: ignore[index]


def test_a_record_loaded_with_a_lone_surrogate_is_served_through_the_admin_api(
    sandbox: SandboxServer,
) -> None:
    loaded = requests.post(
        f"{sandbox.base_url}/__sandbox/records/Contacts",
        json=[{"Last_Name": _UNPAIRED}],
        timeout=TIMEOUT,
    )
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["data"][0]["Last_Name"] == _UNPAIRED


# -- a transcript of every endpoint, pinned byte for byte ----------------------------------------
TRANSCRIPT = Path(__file__).parent / "data" / "sandbox_transcript.json"
_RECORD_TRANSCRIPT = os.environ.get("SANDBOX_RECORD_TRANSCRIPT") == "1"
_INLINE_BODY = 3000  # longer bodies are pinned by their SHA-256 only, to keep the file readable
_ACCESS_TOKEN = re.compile(rb"1000\.[0-9a-f]{32}\.[0-9a-f]{32}")  # random on every grant


class Transcript:
    """Sends requests over one keep-alive connection and notes each exchange as the wire had it
    (status, headers but the date, body), with the random access token masked."""

    def __init__(self, sb: SandboxServer) -> None:
        self.conn = http.client.HTTPConnection(sb.host, sb.port, timeout=TIMEOUT)
        self.token = ""
        self.entries: list[dict[str, Any]] = []

    def send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        auth: bool = True,
    ) -> bytes:
        url = path + ("?" + urlencode(params) if params else "")
        raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        sent = {"Host": "sandbox.test", **(headers or {})}
        if auth and self.token:
            sent["Authorization"] = f"Zoho-oauthtoken {self.token}"
        self.conn.request(method, url, raw, sent)
        resp = self.conn.getresponse()
        content = resp.read()
        content = _ACCESS_TOKEN.sub(b"1000.<random>", content)
        kept = [
            [k, v.split()[0] if k == "Server" else v] for k, v in resp.getheaders() if k != "Date"
        ]
        entry: dict[str, Any] = {"request": f"{method} {url}", "status": resp.status}
        entry["headers"] = kept
        text = content.decode("utf-8", "backslashreplace")
        if len(text) > _INLINE_BODY:
            entry["body_sha256"] = hashlib.sha256(content).hexdigest()
            entry["body_start"] = text[:200]
        else:
            entry["body"] = text
        self.entries.append(entry)
        return content

    def login(self) -> None:
        form = "grant_type=refresh_token&client_id=sandbox-client&client_secret=sandbox-secret"
        self.conn.request(
            "POST",
            "/oauth/v2/token",
            form + "&refresh_token=sandbox-refresh",
            {"Host": "sandbox.test", "Content-Type": "application/x-www-form-urlencoded"},
        )
        self.token = json.loads(self.conn.getresponse().read())["access_token"]


def _declared_fields(module: str) -> str:
    """Every field of a module in the order its metadata declares them (a set's order varies)."""
    return ",".join(f.api_name for f in metadata.MODULE_META[module][: config.MAX_FIELDS_PER_CALL])


def _oauth_exchanges(t: Transcript) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    good = "grant_type=refresh_token&client_id=sandbox-client&client_secret=sandbox-secret"
    for body in (
        good + "&refresh_token=sandbox-refresh",
        good + "&refresh_token=wrong",
        good.replace("sandbox-secret", "nope") + "&refresh_token=sandbox-refresh",
        "grant_type=authorization_code",
    ):
        t.send("POST", "/oauth/v2/token", body=body.encode(), headers=form, auth=False)
    t.send("POST", "/oauth/v2/token?" + good + "&refresh_token=sandbox-refresh", auth=False)
    t.send("GET", "/oauth/v2/token", auth=False)
    t.send("GET", "/crm/v8/org", auth=False)
    t.send("GET", "/crm/v8/org", headers={"Authorization": "Zoho-oauthtoken 1000.x.y"}, auth=False)
    t.send("GET", "/crm/v8/org", headers={"Authorization": "Bearer abc"}, auth=False)


def _metadata_exchanges(t: Transcript) -> None:
    t.send("GET", "/crm/v8/org")
    t.send("GET", "/crm/v8/settings/modules")
    for module in ("Accounts", "Contacts", "Deals", "Leads"):
        t.send("GET", "/crm/v8/settings/fields", {"module": module})
    t.send("GET", "/crm/v8/settings/fields")
    t.send("GET", "/crm/v8/settings/layouts")
    t.send("POST", "/crm/v8/settings/modules", body={})
    t.send("GET", "/crm/v8/")
    t.send("GET", "/elsewhere")


def _read_exchanges(t: Transcript) -> None:
    for module in ("Accounts", "Contacts", "Deals"):
        fields = "Modified_Time,Owner,id," + _declared_fields(module)
        t.send("GET", f"/crm/v8/{module}", {"fields": fields, "per_page": 7})
        t.send("GET", f"/crm/v8/{module}", {"fields": fields, "per_page": 7, "page": 3})
        t.send("GET", f"/crm/v8/{module}", {"fields": fields})  # a full page of 200
        t.send("GET", f"/crm/v8/{module}/actions/count")
        t.send("GET", f"/crm/v8/{module}/deleted", {"per_page": 4})
    fields = ACCOUNT_FIELDS
    for sort_by in ("id", "Created_Time", "Modified_Time"):
        for order in ("asc", "desc"):
            query = {"fields": fields, "per_page": 5, "sort_by": sort_by, "sort_order": order}
            first = json.loads(t.send("GET", "/crm/v8/Accounts", query))
            token = first["info"]["next_page_token"]
            t.send("GET", "/crm/v8/Accounts", {**query, "page_token": token})
    since = {"If-Modified-Since": "2026-10-30T00:00:00+05:30"}
    query = {"fields": fields, "per_page": 50, "sort_by": "Modified_Time"}
    t.send("GET", "/crm/v8/Accounts", query, headers=since)
    t.send(
        "GET",
        "/crm/v8/Accounts",
        query,
        headers={"If-Modified-Since": "Fri, 30 Oct 2026 00:00:00 GMT"},
    )
    t.send("GET", "/crm/v8/Accounts", query, headers={"If-Modified-Since": "2030-01-01T00:00:00Z"})
    t.send("GET", "/crm/v8/Accounts", query, headers={"If-Modified-Since": "someday"})
    t.send("GET", "/crm/v8/Accounts/deleted", {"type": "recycle"}, headers=since)
    t.send("GET", "/crm/v8/Accounts/deleted", {"type": "permanent", "page": 2, "per_page": 1})
    t.send("GET", "/crm/v8/Accounts/deleted", headers={"If-Modified-Since": "2030-01-01T00:00:00Z"})
    t.send("GET", "/crm/v8/Accounts/deleted", {"page": 99})
    t.send("GET", "/crm/v8/Accounts/deleted", {"type": "some"})


def _bad_read_exchanges(t: Transcript) -> None:
    fields = ACCOUNT_FIELDS
    for query in (
        {},
        {"fields": " , "},
        {"fields": ",".join(f"Field_{i}" for i in range(51))},
        {"fields": "Account_Name,Last_Name"},
        {"fields": "Account_Name,Nope"},
        {"fields": fields, "per_page": "x"},
        {"fields": fields, "per_page": 0},
        {"fields": fields, "per_page": 500, "page": 2},
        {"fields": fields, "sort_by": "Account_Name"},
        {"fields": fields, "sort_order": "up"},
        {"fields": fields, "page": 11},
        {"fields": fields, "page": 0},
        {"fields": fields, "page_token": "bm90IGEgdG9rZW4"},
        {"fields": fields, "page_token": "!!"},
    ):
        t.send("GET", "/crm/v8/Accounts", query)
    t.send("GET", "/crm/v8/Leads", {"fields": fields})
    t.send("GET", "/crm/v8/Accounts/5843104100000000001", {"fields": "Account_Name,Owner"})
    t.send("GET", "/crm/v8/Accounts/5843104100000000002")
    t.send("GET", "/crm/v8/Accounts/5843104199999999999")
    t.send("GET", "/crm/v8/Accounts/abc")
    t.send("GET", "/crm/v8/Accounts/1/2/3")
    t.send("PATCH", "/crm/v8/Accounts")


def _write_exchanges(t: Transcript) -> None:
    account = "5843104100000000003"
    contact = "5843104200000000004"
    bodies: list[Any] = [
        {"data": [{"Account_Name": "Written Ltd", "Phone": "1"}, {"Account_Name": ""}]},
        {"data": [{"Last_Name": "Linked", "Account_Name": {"id": account}, "Email": "L@x.io"}]},
        {"data": [{"Last_Name": "Dangling", "Account_Name": "5843104199999999999"}]},
        {"data": [{"Last_Name": "Bad", "Nope": 1}]},
        {"data": [{"Last_Name": "Bad", "Created_Time": "2026-01-01T00:00:00Z"}]},
        {"data": [{"id": "1", "Last_Name": "Bad"}]},
        {"data": ["not an object"]},
        {"data": []},
        {"data": [{"Last_Name": str(i)} for i in range(101)]},
    ]
    for body in bodies:
        t.send("POST", "/crm/v8/Contacts", body=body)
    t.send("POST", "/crm/v8/Contacts", body=b"{not json")
    t.send(
        "PUT", "/crm/v8/Contacts", body={"data": [{"id": contact, "Title": "Boss"}, {"Title": "x"}]}
    )
    t.send("PUT", "/crm/v8/Contacts", body={"data": [{"id": "123", "Title": "x"}]})
    t.send("PUT", f"/crm/v8/Contacts/{contact}", body={"data": [{"Email": "new@example.com"}]})
    t.send("GET", f"/crm/v8/Contacts/{contact}")
    t.send("DELETE", "/crm/v8/Contacts", {"ids": f"{contact},5843104200000000005,x"})
    t.send("DELETE", "/crm/v8/Contacts", {"ids": "5843104200000000006"})
    t.send("DELETE", "/crm/v8/Contacts", {"ids": "x"})
    t.send("DELETE", "/crm/v8/Contacts")
    t.send("DELETE", "/crm/v8/Contacts", {"ids": ",".join(str(i) for i in range(101))})
    t.send("DELETE", "/crm/v8/Contacts/5843104200000000007")
    t.send("POST", "/crm/v8/Contacts/5843104200000000008", body={})
    t.send("GET", "/crm/v8/Contacts/deleted", {"type": "recycle"})
    query = {"fields": "Last_Name,Email,Account_Name,Modified_Time", "sort_by": "Modified_Time"}
    t.send("GET", "/crm/v8/Contacts", {**query, "per_page": 6})
    t.send("GET", "/crm/v8/Contacts", {**query, "per_page": 6, "sort_order": "asc"})


def _admin_exchanges(t: Transcript) -> None:
    admin = "/__sandbox"
    t.send("GET", f"{admin}/health")
    t.send("GET", f"{admin}/stats")
    t.send("POST", f"{admin}/clock", body={"advance_seconds": 90})
    t.send("POST", f"{admin}/clock", body={"now": "2026-11-02T10:00:00+05:30"})
    t.send("POST", f"{admin}/org", body={"org_name": "Renamed", "time_zone": "America/St_Johns"})
    t.send(
        "GET", "/crm/v8/Deals", {"fields": "Deal_Name,Modified_Time,Closing_Date", "per_page": 3}
    )
    t.send("POST", f"{admin}/org", body={"org_id": "org-2", "time_zone": "UTC"})
    t.send("GET", "/crm/v8/org")
    t.send("POST", f"{admin}/records/Accounts", body=[{"Account_Name": "Admin Loaded"}])
    loaded = {
        "id": "5843104000100099999",
        "Account_Name": "Kept",
        "Created_Time": "2026-01-01T00:00:00Z",
        "Modified_Time": "2026-02-01T00:00:00Z",
    }
    t.send("POST", f"{admin}/records/Accounts", body={"data": [loaded], "keep_times": True})
    t.send("DELETE", f"{admin}/records/Accounts/5843104000100099999")
    t.send("DELETE", f"{admin}/records/Accounts/5843104000100099999")
    t.send("POST", f"{admin}/records/Leads", body=[])
    t.send("POST", f"{admin}/faults", body={"nope": 1})
    t.send("POST", f"{admin}/faults", body={"rate_limit_every": 3, "retry_after_seconds": 7})
    for _ in range(4):
        t.send("GET", "/crm/v8/Accounts/actions/count")
    t.send("POST", f"{admin}/faults", body={"error_rate": 0.6, "seed": 5})
    for _ in range(8):
        t.send("GET", "/crm/v8/Contacts/actions/count")
    t.send("POST", f"{admin}/faults", body={})
    t.send("GET", f"{admin}/nope")
    t.send("GET", f"{admin}/stats")
    t.send("DELETE", f"{admin}/stats")
    t.send("GET", f"{admin}/stats")


def _limit_exchanges(t: Transcript) -> None:
    query = {"fields": "Account_Name", "per_page": 10, "sort_by": "Modified_Time"}
    t.send("GET", "/crm/v8/Accounts", {**query, "page": 2})
    t.send("GET", "/crm/v8/Accounts", {**query, "page": 3})
    token = json.loads(t.send("GET", "/crm/v8/Accounts", {**query, "page": 2}))["info"]
    for _ in range(3):
        page = json.loads(
            t.send("GET", "/crm/v8/Accounts", {**query, "page_token": token["next_page_token"]})
        )
        token = page.get("info", token)
    t.send("GET", "/crm/v8/Deals", {"fields": "Deal_Name"})
    t.send("GET", "/crm/v8/Deals/deleted")


def _transcript() -> list[dict[str, Any]]:
    clock = datetime(2026, 11, 1, 12, tzinfo=UTC)
    entries: list[dict[str, Any]] = []
    with SandboxServer(
        SandboxConfig(accounts=250, contacts=400, deals=120, clock_start=clock)
    ) as sb:
        t = Transcript(sb)
        _oauth_exchanges(t)
        t.login()
        for exchanges in (_metadata_exchanges, _read_exchanges, _bad_read_exchanges):
            exchanges(t)
        _write_exchanges(t)
        _admin_exchanges(t)
        entries += t.entries
    small = SandboxConfig(
        accounts=80,
        contacts=0,
        deals=0,
        discrete_page_limit=20,
        query_record_limit=40,
        clock_start=clock,
    )
    with SandboxServer(small) as sb:
        t = Transcript(sb)
        t.login()
        _limit_exchanges(t)
        entries += t.entries
    return entries


def test_every_endpoint_answers_as_the_pinned_transcript() -> None:
    """Statuses, headers and bodies of a fixed request sequence (OAuth, reads in every sort and
    paging mode, writes, deletes, metadata, admin calls, faults, limits), as recorded from the
    sandbox before its modules were split; a change shows as the first exchange that differs."""
    entries = _transcript()
    if _RECORD_TRANSCRIPT:
        TRANSCRIPT.write_text(json.dumps(entries, ensure_ascii=False, indent=1) + "\n", "utf-8")
    pinned = json.loads(TRANSCRIPT.read_text("utf-8"))
    assert len(entries) == len(pinned)
    for got, want in zip(entries, pinned, strict=True):
        assert got == want, want["request"]
