"""Poison records (issue 11, defect 4): CRM text the warehouse cannot store is quarantined with a
reason naming the field, its raw JSON kept escaped, and the rest of the batch loads.

Records are written to the sandbox over HTTP and synced by the real crm_books_sync DAG, on SQLite
and PostgreSQL. What the sandbox cannot hold (bytes that are not UTF-8, an id too long for an
index) is put on the wire by a small proxy between the client and the sandbox.
"""

from __future__ import annotations

import json
import random
import string
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from sqlalchemy import text

from crm_books.warehouse.engine import create_warehouse_engine
from tests.dag_runs import run_dag
from tests.integration.sandbox_client import access_token

pytestmark = pytest.mark.slow

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
TIMEOUT = 10
BROKEN = "BROKEN-BYTES"  # the proxy sends these characters as two bytes that are not UTF-8
LONG_ID = "".join(random.Random(4).choices(string.digits, k=3_000))  # incompressible


class Rewriting:
    """An HTTP proxy to the sandbox that replaces byte strings in the bodies it passes back."""

    def __init__(self, target: str, replace: dict[bytes, bytes]) -> None:
        self.target, self.replace = target, replace
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream = requests.get(proxy.target + self.path, headers=headers, timeout=TIMEOUT)
                body = upstream.content
                for old, new in proxy.replace.items():
                    body = body.replace(old, new)
                self.send_response(upstream.status_code)
                if upstream.status_code not in (204, 304):
                    self.send_header("Content-Type", upstream.headers.get("Content-Type", ""))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Rewriting:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Crm:
    """Writes records the way a CRM user's integration would: POST /crm/v8/{module}."""

    def __init__(self, sb: Any) -> None:
        self.sb = sb
        token = access_token(sb, requests.Session())
        self.headers = {"Authorization": f"Zoho-oauthtoken {token}"}

    def create(self, module: str, record: dict[str, Any]) -> str:
        # requests writes lone surrogates and NUL as JSON escapes (\ud800, \u0000)
        resp = requests.post(
            f"{self.sb.base_url}/crm/v8/{module}",
            json={"data": [record]},
            headers=self.headers,
            timeout=TIMEOUT,
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["data"][0]["details"]["id"])


def query(uri: str, sql: str) -> list[Any]:
    engine = create_warehouse_engine(uri)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


@pytest.fixture
def crm_behind_proxy(airflow_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The zoho_crm connection reads the sandbox through a Rewriting proxy (tokens come direct)."""
    sb = airflow_env
    replace: dict[bytes, bytes] = {BROKEN.encode(): b"\xff\xfe"}
    with Rewriting(sb.base_url, replace) as proxy:
        monkeypatch.setenv(
            "AIRFLOW_CONN_ZOHO_CRM",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": proxy.url,
                    "login": sb.client_id,
                    "password": sb.client_secret,
                    "extra": {"refresh_token": sb.refresh_token, "accounts_url": sb.accounts_url},
                }
            ),
        )
        yield sb, replace


def test_unstorable_text_is_quarantined_with_reasons_and_the_rest_loads(
    crm_behind_proxy: Any, warehouse_uri: str
) -> None:
    sb, replace = crm_behind_proxy
    crm = Crm(sb)
    good = [crm.create("Accounts", {"Account_Name": f"Good Co {i}"}) for i in range(10)]
    over_long = "".join(random.Random(5).choices(string.ascii_letters, k=5_000))
    bad_accounts = {
        "surrogate": crm.create("Accounts", {"Account_Name": "Lone \ud800 Ltd"}),
        "nul": crm.create("Accounts", {"Account_Name": "Nul Ltd", "Phone": "555\x000100"}),
        "bytes": crm.create("Accounts", {"Account_Name": "Bytes Ltd", "Billing_City": BROKEN}),
        "over_long": crm.create("Accounts", {"Account_Name": over_long}),
        "long_id": crm.create("Accounts", {"Account_Name": "Long Id Ltd"}),
    }
    # The CRM serves that account (and the lookup to it) under an id no index row can hold.
    replace[f'"id":"{bad_accounts["long_id"]}"'.encode()] = f'"id":"{LONG_ID}"'.encode()
    person = crm.create(
        "Contacts", {"Last_Name": "Person", "Account_Name": {"id": good[0]}, "Email": "p@x.io"}
    )
    # Fax is not mapped for a contact person (only for individuals), so it harms nothing.
    odd_fax = crm.create(
        "Contacts", {"Last_Name": "Faxed", "Account_Name": {"id": good[1]}, "Fax": "\ud800"}
    )
    individual = crm.create("Contacts", {"First_Name": "Ada", "Last_Name": "Solo"})
    bad_contacts = {
        "contact_surrogate": crm.create("Contacts", {"First_Name": "\udfff", "Last_Name": "Low"}),
        "long_lookup": crm.create(
            "Contacts", {"Last_Name": "Linked", "Account_Name": {"id": bad_accounts["long_id"]}}
        ),
        "long_email": crm.create(
            "Contacts", {"Last_Name": "Mail", "Email": "m" * 150 + "@example.com"}
        ),
    }
    sb.advance_clock(timedelta(hours=1))

    outcome = run_dag("crm_books_sync", T0)

    assert outcome.state == "success", outcome.task_states
    customers = query(warehouse_uri, "SELECT crm_account_id, crm_contact_id FROM books.customers")
    assert {r.crm_account_id for r in customers if r.crm_account_id} == set(good)
    assert {r.crm_contact_id for r in customers if r.crm_contact_id} == {individual}
    persons = query(warehouse_uri, "SELECT crm_contact_id FROM books.contact_persons")
    assert {r.crm_contact_id for r in persons} == {person, odd_fax}

    rejected = query(
        warehouse_uri, "SELECT module, crm_id, reason, raw_payload FROM books.rejected_records"
    )
    by_id = {r.crm_id: r for r in rejected}
    assert len(by_id) == len(rejected) == 8
    reason = {
        key: by_id[rid].reason
        for key, rid in {**bad_accounts, **bad_contacts}.items()
        if rid in by_id
    }
    assert reason["surrogate"] == "Account_Name contains an unpaired surrogate U+D800"
    assert reason["contact_surrogate"] == "First_Name contains an unpaired surrogate U+DFFF"
    assert reason["nul"].startswith("Phone contains a NUL character (U+0000)")
    assert reason["bytes"].startswith(
        "Billing_City contains an unpaired surrogate U+DCFF (the invalid UTF-8 byte 0xFF"
    )
    assert "company_name" in reason["over_long"] and "5,000 characters long" in reason["over_long"]
    assert (
        reason["long_lookup"]
        == "Account_Name id is 3,000 characters long, more than the 100 allowed"
    )
    assert "email" in reason["long_email"] and "more than the 100 allowed" in reason["long_email"]
    long_id = [r for r in rejected if r.crm_id.startswith(LONG_ID[:60])]
    assert [r.reason for r in long_id] == ["id is 3,000 characters long, more than the 100 allowed"]
    assert len(long_id[0].crm_id) == 61  # clipped, so the reject itself fits every index

    # The raw JSON is kept with escapes and decodes back to exactly what the CRM sent.
    raw = {
        key: json.loads(by_id[rid].raw_payload) for key, rid in bad_accounts.items() if rid in by_id
    }
    assert "\\ud800" in by_id[bad_accounts["surrogate"]].raw_payload
    assert raw["surrogate"]["Account_Name"] == "Lone \ud800 Ltd"
    assert raw["nul"]["Phone"] == "555\x000100"
    assert raw["bytes"]["Billing_City"].encode("utf-8", "surrogateescape") == b"\xff\xfe"
    assert json.loads(long_id[0].raw_payload)["id"] == LONG_ID

    log = {r.module: r for r in query(warehouse_uri, "SELECT * FROM books.sync_runs")}
    assert (log["Accounts"].extracted, log["Accounts"].inserted) == (15, 10)
    assert log["Accounts"].rejected == 5 and log["Contacts"].rejected == 3
    assert {r.status for r in log.values()} == {"success"}
