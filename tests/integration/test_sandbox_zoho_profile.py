"""The sandbox's strict `zoho` profile over real HTTP: each of Zoho's limits refused with Zoho's
status, code and body, the usage in the stats, and the Bulk Read API's job lifecycle and zip."""

from __future__ import annotations

import csv
import io
import threading
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.integration.sandbox_client import TIMEOUT, Api
from zoho_sandbox import SandboxConfig, SandboxServer
from zoho_sandbox.__main__ import build_parser, knob_overrides
from zoho_sandbox.oauth import ACCESS_DENIED
from zoho_sandbox.process import sandbox_process
from zoho_sandbox.profiles import ZOHO

# the zoho profile, fast enough for tests: no latency unless a test asks for it
FAST = {"latency_ms": 0, "jitter_ms": 0, "bulk_job_base_seconds": 0}
BULK = "/crm/bulk/v8/read"


@pytest.fixture
def zoho(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    knobs = {**FAST, **getattr(request, "param", {})}
    cfg = SandboxConfig(accounts=20, contacts=70, deals=0, profile="zoho", knobs=knobs)
    with SandboxServer(cfg) as sb:
        yield sb


def knobs(**settings: Any) -> pytest.MarkDecorator:
    """Runs a test against the zoho profile with these knobs (on top of FAST)."""
    return pytest.mark.parametrize("zoho", [settings], indirect=True, ids=["knobs"])


def usage(sb: SandboxServer) -> dict[str, int]:
    return dict(sb.stats["usage"])


def grant(sb: SandboxServer) -> dict[str, Any]:
    form = {
        "grant_type": "refresh_token",
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "refresh_token": sb.refresh_token,
    }
    resp = requests.post(f"{sb.accounts_url}/oauth/v2/token", data=form, timeout=TIMEOUT)
    assert resp.status_code == 200
    return dict(resp.json())


def in_parallel(n: int, call: Any) -> list[requests.Response]:
    """`n` calls started together (a barrier), their responses in order."""
    barrier = threading.Barrier(n)

    def one(_: int) -> requests.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


# -- knobs: profile defaults, CLI flags, admin API ---------------------------------------------
def test_the_zoho_profile_defaults_are_zohos_limits_and_flags_override_them() -> None:
    assert (ZOHO.latency_ms, ZOHO.max_concurrency, ZOHO.token_grants_per_window) == (300, 10, 10)
    assert (ZOHO.max_live_tokens, ZOHO.bulk_page_records, ZOHO.bulk_downloads_per_minute) == (
        15,
        200_000,
        10,
    )
    args = build_parser().parse_args(
        ["serve", "--profile", "zoho", "--latency-ms", "5", "--no-validate-writes"]
    )
    assert args.profile == "zoho"
    assert knob_overrides(args) == {"latency_ms": 5.0, "validate_writes": False}


def test_serve_profile_zoho_starts_the_cli_with_zohos_limits_and_the_flags_given() -> None:
    knobs = {"latency_ms": 5, "max_concurrency": 4, "validate_writes": False}
    with sandbox_process(2, 2, seed=7, profile="zoho", knobs=knobs) as (base, _):
        got = requests.get(f"{base}/__sandbox/profile", timeout=TIMEOUT).json()
    assert got["profile"] == "zoho"
    assert {k: got["knobs"][k] for k in knobs} == knobs
    assert got["knobs"]["token_grants_per_window"] == 10  # the profile's, not given


def test_knobs_are_read_and_set_through_the_admin_api(zoho: SandboxServer) -> None:
    base = f"{zoho.base_url}/__sandbox/profile"
    got = requests.get(base, timeout=TIMEOUT).json()
    assert got["profile"] == "zoho" and got["knobs"]["max_concurrency"] == 10
    set_ = requests.post(base, json={"max_concurrency": 2}, timeout=TIMEOUT).json()
    assert set_["knobs"]["max_concurrency"] == 2 and set_["knobs"]["validate_writes"] is True
    back = requests.post(base, json={"name": "default"}, timeout=TIMEOUT).json()
    assert back["profile"] == "default" and back["knobs"]["max_concurrency"] == 0
    bad = requests.post(base, json={"max_concurency": 2}, timeout=TIMEOUT)
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_DATA"
    assert "max_concurrency" in bad.json()["message"]


# -- latency and the concurrency cap -----------------------------------------------------------
@knobs(latency_ms=400, max_concurrency=3)
def test_calls_beyond_the_concurrency_cap_get_zohos_429(zoho: SandboxServer) -> None:
    api = Api(zoho)
    zoho.reset_stats()
    responses = in_parallel(6, lambda: api.get("/crm/v8/org"))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 429, 429, 429]
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json() == {
        "code": "TOO_MANY_REQUESTS",
        "details": {"limit": 3},
        "message": "You have exceeded the concurrency limit (calls in flight) of your edition",
        "status": "error",
    }
    assert refused.headers["Retry-After"] == "1"
    used = usage(zoho)
    assert (used["peak_in_flight"], used["concurrency_refusals"], used["in_flight"]) == (3, 3, 0)


@knobs(latency_ms=300, max_concurrency=0)
def test_latency_holds_each_call_and_the_peak_in_flight_is_reported(zoho: SandboxServer) -> None:
    api = Api(zoho)
    zoho.reset_stats()
    start = time.monotonic()
    responses = in_parallel(4, lambda: api.get("/crm/v8/org"))
    assert all(r.status_code == 200 for r in responses)
    assert 0.3 <= time.monotonic() - start < 1.2  # concurrent, each about 300 ms
    assert usage(zoho)["peak_in_flight"] == 4
    requests.delete(f"{zoho.base_url}/__sandbox/stats", timeout=TIMEOUT)
    assert usage(zoho)["peak_in_flight"] == 0


# -- OAuth: grants per window, live tokens -----------------------------------------------------
@knobs(token_grants_per_window=3, token_window_seconds=1)
def test_grants_past_the_window_limit_are_access_denied_until_the_window_passes(
    zoho: SandboxServer,
) -> None:
    tokens = [grant(zoho) for _ in range(3)]
    assert all("access_token" in t for t in tokens)
    assert (
        grant(zoho)
        == ACCESS_DENIED
        == {
            "error_description": "You have made too many requests continuously. "
            "Please try again after some time.",
            "error": "Access Denied",
            "status": "failure",
        }
    )
    assert (usage(zoho)["token_grants"], usage(zoho)["token_denials"]) == (3, 1)
    time.sleep(1.1)
    assert "access_token" in grant(zoho)


@knobs(max_live_tokens=2)
def test_the_grant_past_the_live_limit_invalidates_the_oldest_token(zoho: SandboxServer) -> None:
    first, second, third = (grant(zoho)["access_token"] for _ in range(3))

    def org(token: str) -> requests.Response:
        headers = {"Authorization": f"Zoho-oauthtoken {token}"}
        return requests.get(f"{zoho.base_url}/crm/v8/org", headers=headers, timeout=TIMEOUT)

    refused = org(first)
    assert refused.status_code == 401
    assert refused.json() == {
        "code": "INVALID_OAUTHTOKEN",
        "details": {},
        "message": "invalid oauth token",
        "status": "error",
    }
    assert org(second).status_code == org(third).status_code == 200
    assert usage(zoho)["tokens_evicted"] == 1


# -- credits -----------------------------------------------------------------------------------
@knobs(credit_budget=3)
def test_calls_past_the_credit_budget_get_zohos_429(zoho: SandboxServer) -> None:
    api = Api(zoho)
    fields = {"fields": "Account_Name", "per_page": 5}
    assert [api.get("/crm/v8/Accounts", params=fields).status_code for _ in range(3)] == [200] * 3
    refused = api.get("/crm/v8/Accounts", params=fields)
    assert refused.status_code == 429
    assert refused.json() == {
        "code": "TOO_MANY_REQUESTS",
        "details": {"credits_used": 3, "limit": 3},
        "message": "You have exceeded the API credits limit of your edition for the last 24 hours",
        "status": "error",
    }
    assert int(refused.headers["Retry-After"]) > 80_000  # the oldest credit frees in ~24 h
    assert (usage(zoho)["credits_used"], usage(zoho)["credit_refusals"]) == (3, 1)
    zoho.reset_stats()
    assert not any(usage(zoho).values())  # counters cleared (the budget's window is not)
    assert api.get("/crm/v8/Accounts", params=fields).status_code == 429


@knobs(latency_ms=1)
def test_the_fault_switches_still_work_on_the_zoho_profile(zoho: SandboxServer) -> None:
    api = Api(zoho)
    zoho.set_faults(rate_limit_every=2)
    statuses = [api.get("/crm/v8/org").status_code for _ in range(4)]
    assert statuses == [200, 429, 200, 429]
    assert usage(zoho)["credits_used"] == 4


# -- write validation --------------------------------------------------------------------------
def test_malformed_emails_and_missing_lookups_are_refused_with_invalid_data(
    zoho: SandboxServer,
) -> None:
    api = Api(zoho)
    account_id = api.get("/crm/v8/Accounts", params={"fields": "id", "per_page": 1}).json()["data"][
        0
    ]["id"]
    rows = [
        {"Last_Name": "Good", "Email": "good@example.com", "Account_Name": {"id": account_id}},
        {"Last_Name": "Bad", "Email": "not-an-email"},
        {"Last_Name": "Orphan", "Account_Name": {"id": "999"}},
    ]
    resp = api.call("POST", "/crm/v8/Contacts", json={"data": rows})
    assert resp.status_code == 207
    good, bad_email, orphan = resp.json()["data"]
    assert good["code"] == "SUCCESS"
    assert bad_email == {
        "code": "INVALID_DATA",
        "details": {
            "api_name": "Email",
            "json_path": "$.data[1].Email",
            "expected_data_type": "email",
        },
        "message": "invalid data",
        "status": "error",
    }
    assert orphan == {
        "code": "INVALID_DATA",
        "details": {"api_name": "Account_Name", "json_path": "$.data[2].Account_Name", "id": "999"},
        "message": "the id given seems to be invalid",
        "status": "error",
    }


def test_the_default_profile_still_stores_what_it_is_given() -> None:
    with SandboxServer(SandboxConfig(accounts=0, contacts=0, deals=0)) as sb:
        resp = Api(sb).call(
            "POST", "/crm/v8/Contacts", json={"data": [{"Last_Name": "X", "Email": "nope"}]}
        )
        assert resp.status_code == 201


# -- Bulk Read ---------------------------------------------------------------------------------
def create_job(api: Api, query: dict[str, Any]) -> str:
    resp = api.call("POST", BULK, json={"query": query, "file_type": "csv"})
    assert resp.status_code == 201, resp.text
    (added,) = resp.json()["data"]
    assert (added["status"], added["code"], added["message"]) == (
        "success",
        "ADDED_SUCCESSFULLY",
        "Added successfully.",
    )
    assert added["details"]["state"] == "ADDED" and added["details"]["operation"] == "read"
    return str(added["details"]["id"])


def job(api: Api, job_id: str) -> dict[str, Any]:
    resp = api.get(f"{BULK}/{job_id}")
    assert resp.status_code == 200
    return dict(resp.json()["data"][0])


def wait_done(api: Api, job_id: str) -> dict[str, Any]:
    for _ in range(100):
        details = job(api, job_id)
        if details["state"] in ("COMPLETED", "FAILED"):
            return details
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never finished")


def csv_rows(resp: requests.Response) -> list[dict[str, str]]:
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(resp.content)) as archive:
        (name,) = archive.namelist()
        assert name.endswith(".csv")
        text = archive.read(name).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@knobs(bulk_page_records=30, bulk_job_base_seconds=0.5)
def test_a_bulk_read_job_goes_added_in_progress_completed_and_pages_by_id(
    zoho: SandboxServer,
) -> None:
    api = Api(zoho)
    fields = ["Last_Name", "Email", "Account_Name", "Modified_Time"]
    query = {"module": {"api_name": "Contacts"}, "fields": fields, "page": 1}
    job_id = create_job(api, query)
    early = job(api, job_id)
    assert early["state"] in ("ADDED", "IN PROGRESS") and "result" not in early
    not_yet = api.get(f"{BULK}/{job_id}/result")
    assert not_yet.status_code == 400 and not_yet.json()["code"] == "INVALID_DATA"
    done = wait_done(api, job_id)
    assert done["state"] == "COMPLETED"
    assert done["query"]["module"]["api_name"] == "Contacts" and done["file_type"] == "csv"
    token = done["result"].pop("next_page_token")
    assert done["result"] == {
        "page": 1,
        "per_page": 30,
        "count": 30,
        "more_records": True,
        "download_url": f"{BULK}/{job_id}/result",
    }
    rows = csv_rows(api.get(done["result"]["download_url"]))
    assert list(rows[0]) == ["id", *fields]
    ids = [int(r["id"]) for r in rows]
    assert ids == sorted(ids) and len(ids) == 30
    # the same values a JSON read gives: lookups as the related id, times in the org's offset
    for row in rows[:5]:
        record = zoho.store.get("Contacts", row["id"])
        assert record is not None
        assert row["Email"] == (record["Email"] or "")
        assert row["Modified_Time"] == record["Modified_Time"]
        lookup = record.get("Account_Name")
        assert row["Account_Name"] == (lookup["id"] if lookup else "")
    by_token = {k: v for k, v in query.items() if k != "page"} | {"page_token": token}
    second = wait_done(api, create_job(api, by_token))
    assert (second["result"]["page"], second["result"]["count"]) == (2, 30)
    second_ids = [int(r["id"]) for r in csv_rows(api.get(second["result"]["download_url"]))]
    assert min(second_ids) > max(ids)
    last = wait_done(api, create_job(api, {**query, "page": 3}))
    assert (last["result"]["count"], last["result"]["more_records"]) == (10, False)
    assert "next_page_token" not in last["result"]
    assert usage(zoho)["bulk_jobs"] == 3 and usage(zoho)["bulk_downloads"] == 2
    other = api.call("POST", BULK, json={"query": {"module": "Accounts", "page_token": token}})
    assert other.status_code == 400 and other.json()["details"] == {"api_name": "page_token"}


def test_bulk_read_criteria_on_modified_time_select_the_same_records_as_a_rest_read(
    zoho: SandboxServer,
) -> None:
    api = Api(zoho)
    times = sorted(
        r["Modified_Time"]
        for r in api.get(
            "/crm/v8/Contacts", params={"fields": "Modified_Time", "per_page": 200}
        ).json()["data"]
    )
    lo, hi = times[10], times[40]
    criteria = {
        "group_operator": "and",
        "group": [
            {"field": {"api_name": "Modified_Time"}, "comparator": "greater_than", "value": lo},
            {"field": {"api_name": "Modified_Time"}, "comparator": "less_equal", "value": hi},
        ],
    }
    between = {"field": {"api_name": "Modified_Time"}, "comparator": "between", "value": [lo, hi]}
    counts = []
    for crit in (criteria, between):
        done = wait_done(api, create_job(api, {"module": "Contacts", "criteria": crit}))
        counts.append(done["result"]["count"])
    assert counts == [sum(lo < t <= hi for t in times), sum(lo <= t <= hi for t in times)]
    bad = api.call(
        "POST",
        BULK,
        json={"query": {"module": "Contacts", "criteria": {"api_name": "Email", "value": "x"}}},
    )
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_DATA"


@knobs(bulk_downloads_per_minute=2)
def test_downloads_past_ten_a_minute_get_429(zoho: SandboxServer) -> None:
    api = Api(zoho)
    done = wait_done(api, create_job(api, {"module": {"api_name": "Accounts"}}))
    url = done["result"]["download_url"]
    statuses = [api.get(url).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert api.get(url).json() == {
        "code": "TOO_MANY_REQUESTS",
        "details": {"limit": 2},
        "message": "You have exceeded the download limit of bulk read results per minute",
        "status": "error",
    }
    assert usage(zoho)["bulk_download_refusals"] == 2


@knobs(bulk_fail_every=1)
def test_a_failed_job_has_no_download(zoho: SandboxServer) -> None:
    api = Api(zoho)
    job_id = create_job(api, {"module": {"api_name": "Accounts"}})
    done = wait_done(api, job_id)
    assert done["state"] == "FAILED" and done["result"]["count"] == 0
    refused = api.get(f"{BULK}/{job_id}/result")
    assert refused.status_code == 400 and refused.json()["details"] == {"state": "FAILED"}
