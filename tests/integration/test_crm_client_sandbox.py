"""ZohoCrmClient reads against the sandbox CRM over loopback HTTP: paging, increments, shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm_books.config import ACCOUNTS, CONTACTS, DEALS, MODULE_FIELDS
from crm_books.zoho.errors import CrmApiError
from tests.integration.sandbox_client import (
    Tap,
    api_requests,
    client_for,
    read_ids,
    running_sandbox,
)
from zoho_sandbox import SandboxServer

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
EMPTY = {"accounts": 0, "contacts": 0, "deals": 0}


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    """A sandbox; tests pick sizes and limits with @pytest.mark.parametrize(indirect=True)."""
    with running_sandbox(**getattr(request, "param", {})) as sb:
        yield sb


def add_accounts(sb: SandboxServer, n: int, *, per_second: int = 1) -> list[str]:
    """n accounts from T0 on, `per_second` of them sharing each Modified_Time; their ids."""
    ids = []
    for i in range(n):
        sb.set_clock(T0 + timedelta(seconds=i // per_second))
        ids.append(sb.store.upsert(ACCOUNTS, {"Account_Name": f"Company {i}"})["id"])
    return ids


def read_accounts(client: Any, **kw: Any) -> list[str]:
    return [r["id"] for page in client.iter_pages(ACCOUNTS, ["Account_Name"], **kw) for r in page]


@pytest.mark.parametrize("sandbox", [{"accounts": 2600}], indirect=True)
def test_a_module_past_the_page_limit_is_read_whole_and_once(sandbox: SandboxServer) -> None:
    client = client_for(sandbox)

    ids = read_ids(client, ACCOUNTS)

    assert len(ids) == sandbox.store.count(ACCOUNTS) == 2600
    assert len(set(ids)) == len(ids)
    assert "DISCRETE_PAGINATION_LIMIT_EXCEEDED" not in sandbox.stats["by_code"]
    assert api_requests(sandbox, "/crm/v8/Accounts", 200) == 13  # 2600 / 200, no retries


@pytest.mark.parametrize(
    "sandbox",
    [{"accounts": 1200, "discrete_page_limit": 200, "query_record_limit": 500}],
    indirect=True,
)
def test_more_records_than_the_query_ceiling_restart_from_last_modified_time(
    sandbox: SandboxServer,
) -> None:
    # Ties at the restart points: 4 batches of 120 records each share one Modified_Time.
    sandbox.set_clock(T0)
    for batch in range(4):
        for i in range(120):
            sandbox.store.upsert(ACCOUNTS, {"Account_Name": f"Tied {batch}-{i}"})
        sandbox.advance_clock(timedelta(seconds=1))
    client = client_for(sandbox, per_page=100, discrete_page_limit=200, query_record_limit=500)

    ids = read_ids(client, ACCOUNTS)

    assert len(ids) == sandbox.store.count(ACCOUNTS) == 1680
    assert len(set(ids)) == len(ids)
    assert api_requests(sandbox, "/crm/v8/Accounts", 400) == 0  # limits known, none hit


@pytest.mark.parametrize(
    "sandbox",
    [{"contacts": 900, "discrete_page_limit": 200, "query_record_limit": 300}],
    indirect=True,
)
def test_a_client_unaware_of_the_limits_still_reads_everything_once(
    sandbox: SandboxServer,
) -> None:
    client = client_for(sandbox)  # Zoho's default limits, larger than the sandbox's

    ids = read_ids(client, CONTACTS)

    assert len(ids) == sandbox.store.count(CONTACTS) == 900
    assert len(set(ids)) == len(ids)
    assert sandbox.stats["by_code"].get("DISCRETE_PAGINATION_LIMIT_EXCEEDED", 0) >= 4


def test_incremental_read_returns_what_changed_since(sandbox: SandboxServer) -> None:
    client = client_for(sandbox)
    before = read_ids(client, DEALS)
    sandbox.set_clock(datetime(2030, 1, 1, tzinfo=UTC))
    changed = sandbox.store.upsert(DEALS, {"id": before[0], "Amount": 999.5})
    created = sandbox.store.upsert(DEALS, {"Deal_Name": "New deal", "Stage": "Qualification"})

    since = datetime(2030, 1, 1, tzinfo=UTC)
    pages = list(client.iter_pages(DEALS, MODULE_FIELDS[DEALS], modified_since=since))

    got = {r["id"]: r for page in pages for r in page}
    assert set(got) == {changed["id"], created["id"]}
    assert got[changed["id"]]["Amount"] == 999.5
    later = since + timedelta(hours=1)
    assert list(client.iter_pages(DEALS, MODULE_FIELDS[DEALS], modified_since=later)) == []
    assert api_requests(sandbox, "/crm/v8/Deals", 304) == 1


def test_deleted_records_are_listed_with_their_time(sandbox: SandboxServer) -> None:
    tap = Tap()
    client = client_for(sandbox, session=tap, per_page=2)
    already = {r["id"] for page in client.iter_deleted(ACCOUNTS) for r in page}
    ids = read_ids(client, ACCOUNTS)[:5]
    deleted_at = datetime(2031, 1, 1, tzinfo=UTC)  # after anything the generator deleted
    sandbox.set_clock(deleted_at)
    for record_id in ids[:3]:
        sandbox.store.delete(ACCOUNTS, record_id)
    sandbox.set_clock(deleted_at + timedelta(days=1))
    for record_id in ids[3:]:
        sandbox.store.delete(ACCOUNTS, record_id)

    everything = [r for page in client.iter_deleted(ACCOUNTS) for r in page]
    since = deleted_at + timedelta(hours=1)
    recent = [r for page in client.iter_deleted(ACCOUNTS, deleted_since=since) for r in page]

    assert sorted(r["id"] for r in everything) == sorted(already | set(ids))
    assert sorted(r["id"] for r in recent) == sorted(ids[3:])
    assert [datetime.fromisoformat(r["deleted_time"]) for r in recent] == [
        since + timedelta(hours=23)
    ] * 2
    assert set(read_ids(client, ACCOUNTS)).isdisjoint(ids)
    assert all(s.params["type"] == "all" for s in tap.api() if s.path.endswith("/deleted"))


def test_organization_and_product_fields_exist(sandbox: SandboxServer) -> None:
    client = client_for(sandbox)

    assert client.organization()["id"] == "sandbox-org-1"
    for module, fields in MODULE_FIELDS.items():
        client.check_fields(module, fields)
    with pytest.raises(CrmApiError, match="Contacts has no field named Emial"):
        client.check_fields(CONTACTS, ["Email", "Emial"])


@pytest.mark.parametrize("sandbox", [{"accounts": 470, "discrete_page_limit": 100}], indirect=True)
def test_reads_past_the_page_limit_with_page_tokens_exactly_once(sandbox: SandboxServer) -> None:
    tap = Tap()
    client = client_for(sandbox, session=tap, per_page=20, discrete_page_limit=100)

    ids = read_accounts(client)

    assert len(ids) == len(set(ids)) == 470
    sent = [s.params for s in tap.api()]
    assert [q["page"] for q in sent if "page" in q] == [str(p) for p in range(1, 6)]
    assert sum("page_token" in q for q in sent) == 19
    assert all(
        q["per_page"] == "20" and q["sort_by"] == "Modified_Time" and q["sort_order"] == "asc"
        for q in sent
    )


@pytest.mark.parametrize(
    "sandbox", [{**EMPTY, "discrete_page_limit": 60, "query_record_limit": 150}], indirect=True
)
def test_restarts_from_last_modified_time_at_the_query_ceiling(sandbox: SandboxServer) -> None:
    created = add_accounts(sandbox, 1000, per_second=7)  # ties straddle every restart
    tap = Tap()
    client = client_for(
        sandbox, session=tap, per_page=20, discrete_page_limit=60, query_record_limit=150
    )

    ids = read_accounts(client)

    assert sorted(ids) == sorted(created) and len(set(ids)) == 1000
    restarts = {
        s.headers["if-modified-since"] for s in tap.api() if "if-modified-since" in s.headers
    }
    assert len(restarts) >= 6  # each restart starts from a later Modified_Time


@pytest.mark.parametrize(
    "sandbox", [{**EMPTY, "discrete_page_limit": 40, "query_record_limit": 100}], indirect=True
)
def test_server_side_pagination_limit_also_restarts(sandbox: SandboxServer) -> None:
    created = add_accounts(sandbox, 500, per_second=3)
    tap = Tap()
    client = client_for(sandbox, session=tap, per_page=20, discrete_page_limit=40)  # no query limit

    ids = read_accounts(client)

    assert sorted(ids) == sorted(created)
    assert any("if-modified-since" in s.headers for s in tap.api())


def _without_page_tokens(raw: bytes) -> bytes:
    body = json.loads(raw)
    body.get("info", {}).pop("next_page_token", None)
    return json.dumps(body).encode()


@pytest.mark.parametrize("sandbox", [{**EMPTY, "discrete_page_limit": 60}], indirect=True)
def test_without_page_tokens_the_read_restarts_instead_of_failing(sandbox: SandboxServer) -> None:
    created = add_accounts(sandbox, 300, per_second=2)
    client = client_for(
        sandbox, session=Tap(edit=_without_page_tokens), per_page=20, discrete_page_limit=60
    )

    assert sorted(read_accounts(client)) == sorted(created)


@pytest.mark.parametrize(
    "sandbox", [{**EMPTY, "discrete_page_limit": 20, "query_record_limit": 30}], indirect=True
)
def test_more_records_than_a_query_can_reach_at_one_time_is_a_clear_error(
    sandbox: SandboxServer,
) -> None:
    add_accounts(sandbox, 100, per_second=100)  # all share one Modified_Time
    # With Bulk Read switched off (with it, the read falls back to it: test_bulk_read.py).
    client = client_for(
        sandbox,
        per_page=10,
        discrete_page_limit=20,
        query_record_limit=30,
        bulk_read_threshold=None,
    )

    with pytest.raises(CrmApiError, match="share Modified_Time"):
        read_accounts(client)


@pytest.mark.parametrize("sandbox", [{"accounts": 1000}], indirect=True)
def test_pages_are_streamed_not_collected(sandbox: SandboxServer) -> None:
    tap = Tap()
    client = client_for(sandbox, session=tap, per_page=50)

    first = next(client.iter_pages(ACCOUNTS, ["Account_Name"]))

    assert len(first) == 50
    assert len(tap.api()) == 1  # only the first page has been fetched


@pytest.mark.parametrize("sandbox", [EMPTY], indirect=True)
def test_incremental_read_sends_if_modified_since_and_gets_only_newer(
    sandbox: SandboxServer,
) -> None:
    created = add_accounts(sandbox, 100)
    tap = Tap()
    client = client_for(sandbox, session=tap)

    ids = read_accounts(client, modified_since=T0 + timedelta(seconds=90))

    assert ids == created[90:]  # inclusive of the boundary second
    assert tap.api()[0].headers["if-modified-since"] == "2026-06-01T09:01:30+00:00"


@pytest.mark.parametrize("sandbox", [EMPTY], indirect=True)
def test_no_content_and_not_modified_mean_nothing(sandbox: SandboxServer) -> None:
    client = client_for(sandbox)
    assert read_accounts(client) == []  # an empty module: 204
    add_accounts(sandbox, 10)

    assert read_accounts(client, modified_since=T0 + timedelta(days=1)) == []  # 304
    assert api_requests(sandbox, "/crm/v8/Accounts", 204) == 1
    assert api_requests(sandbox, "/crm/v8/Accounts", 304) == 1


@pytest.mark.parametrize("sandbox", [EMPTY], indirect=True)
def test_records_keep_zoho_shape(sandbox: SandboxServer) -> None:
    sandbox.set_clock(T0)
    lookup = {"name": "Acme", "id": "1"}
    saved = sandbox.store.upsert(CONTACTS, {"Last_Name": "O'Brien", "Account_Name": lookup})
    client = client_for(sandbox)

    pages = list(client.iter_pages(CONTACTS, ["Last_Name", "Account_Name"]))

    assert pages == [
        [
            {
                "id": saved["id"],
                "Modified_Time": "2026-06-01T14:30:00+05:30",  # the org's time zone
                "Last_Name": "O'Brien",
                "Account_Name": lookup,
            }
        ]
    ]


@pytest.mark.parametrize("sandbox", [EMPTY], indirect=True)
def test_a_page_with_invalid_utf8_or_lone_surrogates_still_yields_every_record(
    sandbox: SandboxServer,
) -> None:
    """One bad value must cost its record (the sync quarantines it), never the page of 200."""
    add_accounts(sandbox, 200)
    ids = read_accounts(client_for(sandbox))
    sandbox.store.upsert(ACCOUNTS, {"id": ids[7], "Account_Name": "MARKER"})
    sandbox.store.upsert(ACCOUNTS, {"id": ids[9], "Account_Name": "Lone \ud800 Ltd"})
    # the sandbox writes valid JSON only: the invalid bytes go into its answer on the way
    tap = Tap(edit=lambda raw: raw.replace(b"MARKER", b"Caf\xe9 \xff"))
    client = client_for(sandbox, session=tap)

    pages = list(client.iter_pages(ACCOUNTS, ["Account_Name"]))

    assert [len(page) for page in pages] == [200]
    names = {r["id"]: r["Account_Name"] for r in pages[0]}
    # invalid bytes arrive as lone surrogates (surrogateescape): the original bytes are kept
    assert names[ids[7]].encode("utf-8", "surrogateescape") == b"Caf\xe9 \xff"
    assert names[ids[9]] == "Lone \ud800 Ltd"
    assert names[ids[0]] == "Company 0"


def test_fields_beyond_the_per_call_limit_are_read_in_chunks_and_merged(
    sandbox: SandboxServer,
) -> None:
    # 16 fields besides Modified_Time: 4 chunks of 4, each with id and Modified_Time
    fields = MODULE_FIELDS[ACCOUNTS]
    whole = [r for page in client_for(sandbox).iter_pages(ACCOUNTS, fields) for r in page]
    tap = Tap()
    client = client_for(sandbox, session=tap, max_fields_per_call=6)

    got = [r for page in client.iter_pages(ACCOUNTS, fields) for r in page]

    assert got == whole and len(got) == 100
    field_lists = [s.params["fields"].split(",") for s in tap.api()]
    assert len(field_lists) == 4  # the page, then the other three chunks by id
    assert all(len(f) <= 6 and {"id", "Modified_Time"} <= set(f) for f in field_lists)
