"""Bulk Read against the sandbox: the same CRM through REST and through Bulk Read gives the same
warehouse; FAILED jobs are retried or named; the download limit's 429 is waited out; more
records at one Modified_Time than REST can page through are read through Bulk Read; the run
log and the sandbox count the jobs."""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crm_books.config import MODULE_FIELDS
from crm_books.customers.extract import extract_module
from crm_books.customers.plan import SyncRun
from crm_books.customers.schema import ensure_schema
from crm_books.zoho.bulk import BulkPolicy, CsvPlan, bulk_read_threshold_from, csv_pages
from crm_books.zoho.client import ZohoCrmClient
from crm_books.zoho.errors import CrmApiError
from tests.integration.sandbox_client import Sleeps, client_for, running_sandbox
from tests.integration.test_sync_concurrency_and_faults import (
    complete,
    end_state,
    prepare,
)
from zoho_sandbox import SandboxServer
from zoho_sandbox.limits import SlidingWindow

T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)
FULL = SyncRun(
    run_id="scheduled__2026-10-31T12:00:00+00:00",
    interval_start=datetime(2026, 10, 31, 12, tzinfo=UTC),
    interval_end=datetime(2026, 11, 1, tzinfo=UTC),
)
NEXT = SyncRun(
    run_id="scheduled__2026-11-01T00:00:00+00:00",
    interval_start=datetime(2026, 11, 1, tzinfo=UTC),
    interval_end=datetime(2026, 11, 1, 12, tzinfo=UTC),
)


def bulk_client(sb: SandboxServer, **options: Any) -> ZohoCrmClient:
    """A client that reads every records read through Bulk Read (threshold 0)."""
    options.setdefault("bulk_read_threshold", 0)
    return client_for(sb, **options)


def rest_client(sb: SandboxServer, **options: Any) -> ZohoCrmClient:
    return client_for(sb, bulk_read_threshold=None, **options)


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return sorted((tuple(r) for r in conn.execute(text(sql), params)), key=repr)


def reject_payloads(engine: Engine) -> list[tuple[Any, ...]]:
    """Rejected records with their raw CRM JSON. A CSV cannot tell an empty string from null, so
    REST's "" is compared as Bulk Read gives it: null. Everything else must match exactly."""
    out = []
    for module, crm_id, reason, payload in rows(
        engine, "SELECT module, crm_id, reason, raw_payload FROM books.rejected_records"
    ):
        record = {k: (None if v == "" else v) for k, v in json.loads(payload).items()}
        out.append((module, crm_id, reason, json.dumps(record, ensure_ascii=False)))
    return sorted(out)


def bulk_jobs(engine: Engine, run: SyncRun) -> dict[str, int]:
    found = rows(
        engine, "SELECT module, bulk_jobs FROM books.sync_runs WHERE run_id = :r", r=run.run_id
    )
    return dict(found)


def api_calls(engine: Engine, run: SyncRun) -> dict[str, tuple[int, int]]:
    found = rows(
        engine,
        "SELECT module, api_calls, api_credits FROM books.sync_runs WHERE run_id = :r",
        r=run.run_id,
    )
    return {module: (calls, credits) for module, calls, credits in found}


def change_some(sb: SandboxServer) -> None:
    """Edits, a new account and contacts moving account, for an incremental run."""
    sb.set_clock(NEXT.interval_start + timedelta(hours=1))
    new = sb.store.upsert("Accounts", {"Account_Name": "Bulkhead Ltd", "Phone": "+1 555 0100"})
    for n in range(25):
        sb.store.upsert("Contacts", {"Last_Name": f"Mover {n}", "Account_Name": {"id": new["id"]}})
    sb.store.upsert("Accounts", {"Account_Name": "", "Phone": "+1 555 0199"})  # rejected
    sb.store.upsert("Contacts", {"Last_Name": "Kup", "Account_Name": "not a lookup"})  # rejected


def test_rest_and_bulk_read_give_identical_warehouses(
    engines: tuple[Engine, Engine],
) -> None:
    rest_engine, bulk_engine = engines
    with running_sandbox(accounts=400, contacts=900, deals=0) as sb:
        for run in (FULL, NEXT):
            if run is NEXT:
                change_some(sb)
            for engine, client in ((rest_engine, rest_client(sb)), (bulk_engine, bulk_client(sb))):
                prepare(engine, client, run)
                complete(engine, run)
        usage = sb.stats["usage"]

    rest, bulk = end_state(rest_engine), end_state(bulk_engine)
    assert len(rest["customers"]) > 400 and rest["contact_persons"] and rest["rejected_records"]
    assert bulk == rest
    assert reject_payloads(bulk_engine) == reject_payloads(rest_engine)
    # Both runs read both modules through Bulk Read on one side and REST on the other.
    for run in (FULL, NEXT):
        assert bulk_jobs(bulk_engine, run) == {"Accounts": 1, "Contacts": 1}
        assert bulk_jobs(rest_engine, run) == {"Accounts": 0, "Contacts": 0}
    assert usage["bulk_jobs"] == 4 and usage["bulk_downloads"] == 4
    # Bulk Read's calls are metered like REST's: count, field metadata, create, one status
    # call (the default profile's jobs finish at once) and the download, a credit each.
    assert api_calls(bulk_engine, FULL) == {"Accounts": (5, 5), "Contacts": (5, 5)}
    assert api_calls(rest_engine, FULL)["Contacts"][0] >= 5  # 900 contacts: 5 pages of 200


def test_deal_fields_keep_rest_types_through_bulk_read() -> None:
    """Numbers, dates and a lookup to Contacts (named by Full_Name) as REST gives them."""
    with running_sandbox(accounts=20, contacts=40, deals=60) as sb:
        fields = MODULE_FIELDS["Deals"]
        rest = {r["id"]: r for p in rest_client(sb).iter_pages("Deals", fields) for r in p}
        bulk = {r["id"]: r for p in bulk_client(sb).iter_bulk_pages("Deals", fields) for r in p}

    assert len(bulk) == len(rest) == 60
    for record_id, record in rest.items():
        expected = {k: (None if v == "" else v) for k, v in record.items()}
        assert list(bulk[record_id]) == list(expected)  # same keys, same order
        assert bulk[record_id] == expected
    assert any(isinstance(r["Amount"], float | int) for r in bulk.values())


def test_a_failed_job_is_retried_and_the_run_succeeds(
    warehouse: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with running_sandbox(accounts=30, contacts=50, deals=0, knobs={"bulk_fail_every": 2}) as sb:
        client = bulk_client(sb)
        ensure_schema(warehouse)
        with caplog.at_level(logging.INFO, logger="crm_books"):
            accounts = extract_module(warehouse, client, FULL, "Accounts")  # job 1: COMPLETED
            contacts = extract_module(warehouse, client, FULL, "Contacts")  # 2 FAILED, 3 done
        usage = sb.stats["usage"]

    assert (accounts["extracted"], contacts["extracted"]) == (30, 50)
    assert bulk_jobs(warehouse, FULL) == {"Accounts": 1, "Contacts": 2}
    assert usage["bulk_jobs"] == 3
    failed = [r.getMessage() for r in caplog.records if "ended FAILED" in r.getMessage()]
    assert len(failed) == 1 and "5843104000001000002" in failed[0]
    staged = rows(warehouse, "SELECT COUNT(DISTINCT crm_id) FROM books.stg_crm_records")
    assert staged == [(80,)]


def test_a_job_that_keeps_failing_is_an_error_naming_it() -> None:
    with running_sandbox(accounts=10, contacts=0, deals=0, knobs={"bulk_fail_every": 1}) as sb:
        client = bulk_client(sb, bulk_policy=BulkPolicy(job_attempts=2))
        with pytest.raises(CrmApiError, match=r"Bulk Read job 5843104000001000002 of Accounts "):
            list(client.iter_bulk_pages("Accounts", ["Account_Name"]))
        assert sb.stats["usage"]["bulk_jobs"] == 2


def test_the_download_limit_429_is_waited_out() -> None:
    """One download a minute: the second job's download is refused with a Retry-After, which
    the client waits (a fake minute passes in its sleep), then it gets the zip."""
    with running_sandbox(
        accounts=15, contacts=25, deals=0, knobs={"bulk_downloads_per_minute": 1}
    ) as sb:
        minute = [0.0]
        sb.bulk.downloads = SlidingWindow(clock=lambda: minute[0])
        sleeps = Sleeps()

        def sleep(seconds: float) -> None:
            sleeps(seconds)
            minute[0] += seconds

        client = bulk_client(sb, sleep=sleep)
        accounts = [
            r["id"] for p in client.iter_bulk_pages("Accounts", ["Account_Name"]) for r in p
        ]
        contacts = [r["id"] for p in client.iter_bulk_pages("Contacts", ["Last_Name"]) for r in p]
        usage = sb.stats["usage"]

    assert (len(accounts), len(contacts)) == (15, 25)
    assert usage["bulk_download_refusals"] == 1 and usage["bulk_downloads"] == 2
    assert 60 in sleeps  # the Retry-After: the whole minute of the one allowed download


@pytest.mark.parametrize("windows", [None, 3])
def test_more_records_at_one_time_than_rest_can_page_are_read_through_bulk_read(
    windows: int | None,
) -> None:
    """REST pages through 30 records per query here (Zoho: 100,000); 100 share one
    Modified_Time between records before and after it. Every record is read exactly once."""
    limits = {"discrete_page_limit": 20, "query_record_limit": 30}
    with running_sandbox(accounts=0, contacts=0, deals=0, **limits) as sb:
        ids = []
        for i in range(140):
            second = i if i < 20 else 20 if i < 120 else i - 99  # 100 at T0 + 20 s
            sb.set_clock(T0 + timedelta(seconds=second))
            ids.append(sb.store.upsert("Accounts", {"Account_Name": f"Company {i}"})["id"])
        sb.set_clock(T0 + timedelta(hours=1))
        client = client_for(sb, per_page=10, max_concurrency=windows, **limits)
        read = [
            r["id"]
            for page in client.iter_pages(
                "Accounts", ["Account_Name"], modified_since=T0, split_until=T0 + timedelta(hours=1)
            )
            for r in page
        ]
        usage = sb.stats["usage"]

    assert sorted(read) == sorted(ids)  # each once
    assert usage["bulk_jobs"] == 1
    assert client.usage().bulk_jobs == 1


def test_incremental_reads_go_through_bulk_read_above_the_threshold(warehouse: Engine) -> None:
    """The first sync reads through Bulk Read; then 5 changed records through REST, 12 (above
    the threshold of 8, counted by /actions/count with a Modified_Time criteria) through it."""
    many_run = SyncRun(
        run_id="scheduled__2026-11-01T12:00:00+00:00",
        interval_start=NEXT.interval_end,
        interval_end=NEXT.interval_end + timedelta(hours=12),
    )
    with running_sandbox(accounts=40, contacts=0, deals=0) as sb:
        client = client_for(sb, bulk_read_threshold=8)
        prepare(warehouse, client, FULL)
        complete(warehouse, FULL)
        for run, changed in ((NEXT, 5), (many_run, 12)):
            sb.set_clock(run.interval_start + timedelta(hours=1))
            for n in range(changed):
                sb.store.upsert("Accounts", {"Account_Name": f"Changed {run.run_id} {n}"})
            prepare(warehouse, client, run)
            complete(warehouse, run)

    assert bulk_jobs(warehouse, FULL)["Accounts"] == 1
    assert bulk_jobs(warehouse, NEXT)["Accounts"] == 0
    assert bulk_jobs(warehouse, many_run)["Accounts"] == 1
    names = rows(warehouse, "SELECT company_name FROM books.customers")
    assert len(names) == 40 + 5 + 12


def test_the_threshold_extra() -> None:
    assert bulk_read_threshold_from({}) == 50_000
    assert bulk_read_threshold_from({"bulk_read_threshold": "0"}) == 0
    assert bulk_read_threshold_from({"bulk_read_threshold": None}) is None
    with pytest.raises(ValueError, match="bulk_read_threshold"):
        bulk_read_threshold_from({"bulk_read_threshold": -3})


def test_job_pages_are_followed_by_page_token_each_record_once() -> None:
    """25 records in job pages of 10: three jobs, the next one created before the current
    one's records are handed on (Zoho prepares it meanwhile)."""
    with running_sandbox(accounts=25, contacts=0, deals=0, knobs={"bulk_page_records": 10}) as sb:
        client = bulk_client(sb)
        pages = client.iter_bulk_pages("Accounts", ["Account_Name"])
        first = next(pages)
        jobs_at_first_page = sb.stats["usage"]["bulk_jobs"]
        ids = [r["id"] for page in [first, *pages] for r in page]

    assert len(ids) == len(set(ids)) == 25
    assert jobs_at_first_page == 2  # page 2's job already runs while page 1 is read
    assert client.usage().bulk_jobs == 3


def test_a_job_that_never_finishes_is_an_error_naming_it() -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    policy = BulkPolicy(first_poll=0.05, poll_factor=2, max_poll=0.2, max_job_seconds=0.5)
    with running_sandbox(
        accounts=5, contacts=0, deals=0, knobs={"bulk_job_base_seconds": 60}
    ) as sb:
        client = bulk_client(sb, sleep=sleep, bulk_policy=policy)
        with pytest.raises(CrmApiError, match=r"job 5843104000001000001 of Accounts is still"):
            list(client.iter_bulk_pages("Accounts", ["Account_Name"]))

    assert waits[:3] == [0.05, 0.1, 0.2] and max(waits) == 0.2  # backoff, capped


def test_120_000_records_at_one_time_at_zohos_real_limits() -> None:
    """Zoho's real 2,000 / 100,000 limits: 120,000 records share one Modified_Time, 300 come
    later; the read (4 concurrent windows) gives each once, the rest through one job."""
    with running_sandbox(accounts=0, contacts=0, deals=0) as sb:
        sb.set_clock(T0)
        ids = [
            sb.store.upsert("Accounts", {"Account_Name": f"Same {i}"})["id"] for i in range(120_000)
        ]
        sb.set_clock(T0 + timedelta(seconds=5))
        ids += [
            sb.store.upsert("Accounts", {"Account_Name": f"Later {i}"})["id"] for i in range(300)
        ]
        sb.set_clock(T0 + timedelta(hours=1))
        client = client_for(sb, max_concurrency=4)
        read = [
            r["id"]
            for page in client.iter_pages(
                "Accounts",
                ["Account_Name"],
                modified_since=T0 - timedelta(seconds=1),
                split_until=T0 + timedelta(hours=1),
            )
            for r in page
        ]

    assert len(read) == len(ids) and sorted(read) == sorted(ids)
    assert client.usage().bulk_jobs == 1


def test_csv_cells_get_rest_types_back() -> None:
    """Booleans, integers, decimals, multi-select lists and lookups without a name column, from
    the field metadata; empty cells are null; text stays text."""
    metadata = [
        {"api_name": "Active", "json_type": "boolean"},
        {"api_name": "Employees", "json_type": "integer"},
        {"api_name": "Revenue", "json_type": "double"},
        {"api_name": "Tags", "json_type": "jsonarray"},
        {"api_name": "Owner", "json_type": "jsonobject", "lookup": {}},
        {"api_name": "Phone", "json_type": "string"},
    ]
    plan = CsvPlan.of(["Active", "Employees", "Revenue", "Tags", "Owner", "Phone"], metadata)
    csv_text = (
        "id,Modified_Time,Active,Employees,Revenue,Tags,Owner,Phone\r\n"
        "1,2026-01-01T00:00:00+05:30,true,12,1500.5,a;b,77,0123\r\n"
        '2,,false,,2e3,,,"line 1\nline 2"\r\n'
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("job.csv", csv_text.encode())

    records = [r for page in csv_pages(archive, plan, per_page=1) for r in page]

    assert records == [
        {
            "id": "1",
            "Modified_Time": "2026-01-01T00:00:00+05:30",
            "Active": True,
            "Employees": 12,
            "Revenue": 1500.5,
            "Tags": ["a", "b"],
            "Owner": {"id": "77"},
            "Phone": "0123",
        },
        {
            "id": "2",
            "Modified_Time": None,
            "Active": False,
            "Employees": None,
            "Revenue": 2000.0,
            "Tags": None,
            "Owner": None,
            "Phone": "line 1\nline 2",
        },
    ]
