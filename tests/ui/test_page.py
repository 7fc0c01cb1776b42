"""The page's HTML (escaping, merge links, chart) and its authentication inside Airflow's API server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crm_books.customers.merge_rules import Customer, MergeRequest
from crm_books.warehouse.timestamps import db_timestamp
from crm_books_ui.page import render_page
from crm_books_ui.queries import (
    Dashboard,
    DuplicateCustomer,
    DuplicateGroup,
    PendingDeal,
    RejectedRecord,
    TrendPoint,
)
from tests.airflow_auth import simple_auth

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>\"'&"


def _dashboard(**overrides: object) -> Dashboard:
    values: dict[str, object] = {
        "customers_total": 0,
        "customers_active": 0,
        "customers_books_native": 0,
        "sync_runs": (),
        "trend": (),
        "duplicate_groups": (),
        "locked_documents": (),
        "pending_deals": (),
        "rejected_records": (),
        "totals": {},
    }
    values.update(overrides)
    return Dashboard(**values)  # type: ignore[arg-type]


def _dup(cid: int, name: str, *, crm: str | None = None, email: str | None = None) -> Any:
    source = "crm" if crm else "books"
    return DuplicateCustomer(Customer(cid, source, crm, None, name, "active", None), email, None)


def test_hostile_values_are_rendered_as_text() -> None:
    group = DuplicateGroup(
        group_key=HOSTILE,
        match_reason=HOSTILE,
        flagged_at=NOW,
        customers=(_dup(1, HOSTILE, crm=HOSTILE, email=HOSTILE), _dup(2, "b")),
        proposal=MergeRequest(1, (2,)),
    )
    page = render_page(
        _dashboard(
            duplicate_groups=(group,),
            pending_deals=(
                PendingDeal("d1", HOSTILE, Decimal("1.00"), HOSTILE, None, None, HOSTILE, NOW),
            ),
            rejected_records=(RejectedRecord(1, HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, NOW),),
        ),
        generated_at=NOW,
    )
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;" in page
    # Quotes cannot break out of an attribute either.
    assert not re.search(r"=\"[^\"]*<script", page)


def test_merge_buttons_carry_the_groups_params_and_the_dag_link_stays() -> None:
    group = DuplicateGroup(
        "k",
        "name",
        NOW,
        (_dup(3, "a"), _dup(9, "b", crm="acc-9"), _dup(4, "c")),
        MergeRequest(9, (3, 4)),
    )
    page = render_page(_dashboard(duplicate_groups=(group,)), generated_at=NOW)
    href = unescape(re.search(r'class="merge-link muted" target="_top" href="([^"]+)"', page)[1])
    assert href == "../dags/books_merge_customers"
    conf = unescape(re.search(r'<td class="merge" data-conf="([^"]+)"><button', page)[1])
    assert "Dry run</button>" in page and "Merge for real…</button>" in page
    assert 'src="./page.js" data-dag="books_merge_customers" data-confirm="MERGE"' in page
    assert json.loads(conf) == {
        "master_customer_id": 9,
        "merge_customer_ids": [3, 4],
        "dry_run": True,
    }


def test_chart_rises_from_zero_to_the_customer_total() -> None:
    trend = (TrendPoint(date(2026, 11, 1), 5, 5), TrendPoint(date(2026, 11, 4), 3, 8))
    page = render_page(_dashboard(customers_total=8, trend=trend), generated_at=NOW)
    svg = re.search(r"<svg id=\"customer-trend-chart\".*?</svg>", page)[0]
    assert 'data-total="8"' in svg
    points = re.search(r'<polyline[^>]*points="([^"]+)"', svg)[1].split()
    ys = [float(p.split(",")[1]) for p in points]
    assert len(points) == 3 and ys[0] > ys[1] > ys[2]  # SVG y grows downwards
    assert "2026-10-31" in svg and "2026-11-04" in svg


def test_empty_sections_say_what_to_do() -> None:
    page = render_page(_dashboard(), generated_at=NOW)
    assert "No sync has run yet: trigger crm_books_sync." in page
    assert 'id="customer-trend-empty"' in page and 'id="run-chart-empty"' in page
    for section in ("duplicates", "locked-documents", "pending-deals", "rejected-records"):
        assert f'id="{section}-empty"' in page


@pytest.fixture
def api_client(
    airflow_db: Path,
    warehouse: Engine,
    warehouse_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[object]:
    """Airflow's own API app (with this project's plugins) in-process, one known admin user."""
    simple_auth(
        monkeypatch.setenv,
        tmp_path,
        {"ops": ("viewer", "s3cret-pass"), "ed": ("user", "ed1t-pass")},
    )
    monkeypatch.setenv("AIRFLOW_CONN_BOOKS_WAREHOUSE", warehouse_uri)
    with warehouse.begin() as conn:
        acme = conn.execute(
            text(
                "INSERT INTO books.customers (source, customer_sub_type, contact_name, status,"
                " created_at, updated_at) VALUES ('books', 'business', :n, 'active', :t, :t)"
                " RETURNING customer_id"
            ),
            {"n": "Acme", "t": db_timestamp(NOW)},
        ).scalar()
        conn.execute(
            text(
                "INSERT INTO books.invoices (invoice_number, customer_id, crm_deal_id, status,"
                " workflow_status, total, date, created_at, updated_at)"
                " VALUES ('INV-9', :c, 'd9', 'draft', 'draft', 10, '2026-11-20', :t, :t)"
            ),
            {"c": acme, "t": db_timestamp(NOW)},
        )
        conn.execute(
            text(
                "INSERT INTO books.rejected_records (run_id, module, crm_id, reason, raw_payload,"
                " rejected_at) VALUES ('r1', 'Accounts', 'a1', :why, '{}', :t)"
            ),
            {"why": "Account_Name <missing>", "t": db_timestamp(NOW)},
        )
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app()) as client:
        yield client


def test_plugin_page_needs_an_airflow_login(api_client: object) -> None:
    from fastapi.testclient import TestClient

    assert isinstance(api_client, TestClient)
    anonymous = api_client.get("/crm-books/")
    assert anonymous.status_code == 401
    browser = api_client.get("/crm-books/", headers={"Accept": "text/html"})
    assert browser.status_code == 401 and "Log in to Airflow first" in browser.text
    forged = api_client.get("/crm-books/", headers={"Authorization": "Bearer not-a-jwt"})
    assert forged.status_code == 403
    assert (
        api_client.post("/auth/token", json={"username": "ops", "password": "wrong"}).status_code
        == 401
    )
    token = api_client.post("/auth/token", json={"username": "ops", "password": "s3cret-pass"})
    assert token.status_code == 201
    jwt = token.json()["access_token"]
    page = api_client.get("/crm-books/", headers={"Authorization": f"Bearer {jwt}"})
    assert page.status_code == 200
    assert '<b id="customers-total">1</b>' in page.text
    assert "Account_Name &lt;missing&gt;" in page.text
    assert page.headers["cache-control"] == "no-store"
    # The Airflow UI sends the same JWT as the _token cookie.
    api_client.cookies.set("_token", jwt)
    assert api_client.get("/crm-books/").status_code == 200


def _login(client: Any, user: str, password: str) -> str:
    jwt = client.post("/auth/token", json={"username": user, "password": password})
    client.cookies.set("_token", jwt.json()["access_token"])
    page = client.get("/crm-books/", params={"doc": "invoice:INV-9"})
    assert page.status_code == 200 and 'id="document-edit"' in page.text
    return unescape(re.search(r'name="csrf-token" content="([^"]+)"', page.text)[1])


def test_an_edit_needs_an_editor_a_form_token_and_this_site(
    api_client: Any, warehouse: Engine
) -> None:
    url = "/crm-books/documents/invoice/INV-9"
    form = {"status": "paid", "total": "12.00"}
    assert api_client.post(url, data=form).status_code == 401
    viewer_token = _login(api_client, "ops", "s3cret-pass")
    # A viewer may read the page but not change a document.
    assert api_client.post(url, data={**form, "csrf_token": viewer_token}).status_code == 403
    token = _login(api_client, "ed", "ed1t-pass")
    assert api_client.post(url, data=form).status_code == 403
    assert api_client.post(url, data={**form, "csrf_token": viewer_token}).status_code == 403
    cross = api_client.post(
        url,
        data={**form, "csrf_token": token},
        headers={"Origin": "https://evil.example", "Accept": "text/html"},
    )
    assert cross.status_code == 403 and "came from https://evil.example" in cross.text
    with warehouse.connect() as conn:
        assert conn.execute(text("SELECT status FROM books.invoices")).scalar() == "draft"
    saved = api_client.post(
        url, data={**form, "csrf_token": token, "q": "Acme"}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert saved.headers["location"].startswith("/crm-books/?q=Acme&doc=invoice%3AINV-9&notice=")
    page = api_client.get(saved.headers["location"])
    assert "Saved by ed" in page.text and "set by person" in page.text
    refused = api_client.post(url, data={"status": "accepted", "total": "1", "csrf_token": token})
    assert "Not saved: status &#x27;accepted&#x27; is not allowed for an invoice" in refused.text
    with warehouse.connect() as conn:
        row = conn.execute(text("SELECT status, workflow_status, total FROM books.invoices")).one()
    assert (row[0], row[1], float(row[2])) == ("paid", "draft", 12.0)
