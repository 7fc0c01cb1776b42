"""The page's actions in headless chromium against the `make airflow` stack, as a person uses them:
look a CRM record up, open a document, edit it and see it locked; dry-run a merge from the
duplicate list, then merge for real; forged or anonymous POSTs refused; the freshness warning.
Screenshots of those states go to docs/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from crm_books.warehouse.engine import create_warehouse_engine
from crm_books.warehouse.timestamps import db_timestamp
from devtools.local_airflow import LocalAirflow
from tests.ui.chromium import Page, browser, require_chromium
from tests.ui.test_local_stack import _api, _scalar, stack, synced

pytestmark = pytest.mark.slow
__all__ = ["stack", "synced"]  # the stack fixtures, shared with test_local_stack

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _execute(stack: LocalAirflow, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """Run one statement; its first row, if it returns rows."""
    engine = create_warehouse_engine(stack.config.warehouse_uri)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return tuple(result.one()) if result.returns_rows else None
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def seeded(stack: LocalAirflow, synced: dict[str, Any]) -> dict[str, Any]:
    """An estimate the workflow made for a synced CRM account, and a duplicate pair to merge."""
    state = synced["state"]
    with _api(stack, stack.token()) as api:
        # A busy machine may need longer than test_local_stack's wait for the first sync.
        deadline = time.monotonic() + 900
        while state not in ("success", "failed") and time.monotonic() < deadline:
            time.sleep(5)
            run = api.get(f"/api/v2/dags/crm_books_sync/dagRuns/{synced['run_id']}").json()
            state = run["state"]
    assert state == "success", synced["tasks"]
    now = db_timestamp(datetime.now(UTC))
    engine = create_warehouse_engine(stack.config.warehouse_uri)
    try:
        with engine.begin() as conn:
            crm_id, account, name = conn.execute(
                text(
                    "SELECT customer_id, crm_account_id, contact_name FROM books.customers"
                    " WHERE crm_account_id IS NOT NULL AND status = 'active'"
                    " ORDER BY customer_id LIMIT 1"
                )
            ).one()
            estimate_id = conn.execute(
                text(
                    "INSERT INTO books.estimates (estimate_number, customer_id, crm_deal_id,"
                    " status, workflow_status, total, date, line_item, created_at, updated_at)"
                    " VALUES ('EST-BR-1', :c, 'br-deal-1', 'draft', 'draft', 250, '2026-11-28',"
                    " 'Browser deal', :t, :t) RETURNING estimate_id"
                ),
                {"c": crm_id, "t": now},
            ).scalar()
            conn.execute(
                text(
                    "INSERT INTO books.workflow_events (run_id, crm_deal_id, workflow,"
                    " document_type, document_id, action, to_status, reason, created_at)"
                    " VALUES ('wf-run', 'br-deal-1', 'estimate', 'estimate', :d, 'create',"
                    " 'draft', 'new deal in stage ''Qualification''', :t)"
                ),
                {"d": estimate_id, "t": now},
            )
            native = conn.execute(
                text(
                    "INSERT INTO books.customers (source, customer_sub_type, contact_name, status,"
                    " created_at, updated_at) VALUES ('books', 'business', :n, 'active', :t, :t)"
                    " RETURNING customer_id"
                ),
                {"n": f"{name} (typed in Books)", "t": now},
            ).scalar()
            conn.execute(
                text(
                    "INSERT INTO books.duplicate_candidates (group_key, customer_id, match_reason,"
                    " status, first_flagged_run_id, flagged_at)"
                    " VALUES ('browser-merge', :c, 'name', 'open', 'browser', :t)"
                ),
                [{"c": crm_id, "t": now}, {"c": native, "t": now}],
            )
    finally:
        engine.dispose()
    return {"crm_id": crm_id, "account": account, "name": name, "native": native}


@pytest.fixture(scope="module")
def tab(stack: LocalAirflow) -> Iterator[Page]:
    executable = require_chromium()
    with browser(executable) as page:
        page.call("Network.setCookie", name="_token", value=stack.token(), url=stack.config.url)
        yield page


def test_look_up_a_record_open_a_document_edit_it_and_see_it_locked(
    stack: LocalAirflow, seeded: dict[str, Any], tab: Page
) -> None:
    tab.goto(f"{stack.config.url}/crm-books/", ready="document.getElementById('document-search')")
    tab.type_into("#document-search input[name=q]", seeded["account"])
    tab.evaluate("document.querySelector('#document-search button').click()")
    tab.wait_for("document.getElementById('documents-table')")
    assert tab.evaluate("document.getElementById('documents-refresh') !== null")
    row = tab.evaluate("document.querySelector('#documents-table tbody tr').innerText")
    assert "EST-BR-1" in row and "draft" in row and "workflow" in row and "250.00" in row
    tab.shoot("#documents", SHOTS / "documents_view.png")

    tab.evaluate("document.querySelector('#documents-table a.doc-link').click()")
    tab.wait_for("document.getElementById('document')")
    details = tab.evaluate("document.getElementById('document').innerText")
    assert "Browser deal" in details and "br-deal-1" in details and seeded["name"] in details
    assert "new deal in stage 'Qualification'" in details  # the audit trail
    tab.shoot("#document", SHOTS / "document_details.png")

    tab.evaluate("document.querySelector('#document-edit select').value = 'sent'")
    tab.type_into("#document-edit input[name=total]", "275.50")
    tab.evaluate("document.querySelector('#document-edit button').click()")
    tab.wait_for("document.getElementById('edit-notice')")
    after = tab.evaluate("document.getElementById('document').innerText")
    assert "set by person: the workflow leaves this document alone" in after
    assert "275.50" in after and "manual_edit" in after and "edited by admin" in after
    row = _execute(
        stack,
        "SELECT status, workflow_status, total FROM books.estimates WHERE estimate_number = :n",
        {"n": "EST-BR-1"},
    )
    assert row is not None
    assert (row[0], row[1], float(row[2])) == ("sent", "draft", 275.5)
    # The Refresh button re-reads the record's list, which now says a person set the status.
    tab.evaluate("document.getElementById('documents-refresh').click()")
    # One check of the re-drawn row (the table is replaced while the refresh is under way).
    row_text = "document.querySelector('#documents-table tbody tr')?.innerText"
    tab.wait_for(f"{row_text}?.includes('sent') && {row_text}?.includes('person')")


def test_a_forged_or_anonymous_edit_is_refused(stack: LocalAirflow, seeded: dict[str, Any]) -> None:
    base = stack.config.url
    url = f"{base}/crm-books/documents/estimate/EST-BR-1"
    cookies = {"_token": stack.token()}
    form = {"status": "void", "total": "1"}
    page = httpx.get(f"{base}/crm-books/", cookies=cookies, timeout=30).text
    token = unescape(re.search(r'name="csrf-token" content="([^"]+)"', page)[1])
    refusals = {
        "anonymous": httpx.post(url, data={**form, "csrf_token": token}, timeout=30),
        "no token": httpx.post(url, data=form, cookies=cookies, timeout=30),
        "forged token": httpx.post(
            url, data={**form, "csrf_token": "1.abc"}, cookies=cookies, timeout=30
        ),
        "other site": httpx.post(
            url,
            data={**form, "csrf_token": token},
            cookies=cookies,
            headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
            timeout=30,
        ),
    }
    assert {k: r.status_code for k, r in refusals.items()} == {
        "anonymous": 401,
        "no token": 403,
        "forged token": 403,
        "other site": 403,
    }
    assert "another site" in refusals["other site"].text
    assert "form token" in refusals["no token"].text
    total = _scalar(stack, "SELECT total FROM books.estimates WHERE estimate_number = 'EST-BR-1'")
    assert float(total) != 1.0
    # The same token from this Airflow's own page is accepted.
    ok = httpx.post(
        url,
        data={"status": "sent", "total": "300", "csrf_token": token},
        cookies=cookies,
        headers={"Origin": base},
        timeout=30,
    )
    assert ok.status_code == 303 and "notice=" in ok.headers["location"]


def test_dry_run_a_merge_from_the_duplicate_list_then_merge_for_real(
    stack: LocalAirflow, seeded: dict[str, Any], tab: Page
) -> None:
    with _api(stack, stack.token()) as api:
        api.patch(
            "/api/v2/dags/books_merge_customers", json={"is_paused": False}
        ).raise_for_status()
    tab.goto(f"{stack.config.url}/crm-books/", ready="document.querySelector('td.merge')")
    cell = (
        "[...document.querySelectorAll('td.merge')].find(c => JSON.parse(c.dataset.conf)"
        f".merge_customer_ids.includes({int(seeded['native'])}))"
    )
    # "Merge for real" appears only after a dry run.
    real_shown = f"getComputedStyle({cell}.querySelector('.merge-real')).display !== 'none'"
    assert tab.evaluate(real_shown) is False
    tab.evaluate(f"{cell}.querySelector('.merge-dry-run').click()")
    tab.wait_for(f"{cell}.querySelector('.dry-run-report, .warning')", timeout=300)
    report = tab.evaluate(f"{cell}.querySelector('.merge-result').innerText")
    assert "Dry run, nothing changed" in report, report
    assert f"into master {seeded['crm_id']}" in report
    assert tab.evaluate(real_shown) is True
    tab.evaluate(f"{cell}.closest('tr').id = 'merge-shot'")
    tab.shoot("#merge-shot", SHOTS / "merge_dry_run.png")
    assert (
        _scalar(
            stack, "SELECT status FROM books.customers WHERE customer_id = :c", c=seeded["native"]
        )
        == "active"
    )

    tab.evaluate(f"{cell}.querySelector('.merge-real').click()")
    tab.wait_for(f"{cell}.querySelector('.merge-confirm input')")
    tab.type_into(".merge-confirm input", "MERGE")
    tab.evaluate(f"{cell}.querySelector('.merge-confirm button').click()")
    tab.wait_for(f"{cell}.querySelector('.merge-report, p.warning')", timeout=300)
    merged = tab.evaluate(f"{cell}.querySelector('.merge-result').innerText")
    assert "Merged (merge " in merged, merged
    row = _execute(
        stack,
        "SELECT status, merged_into_customer_id FROM books.customers WHERE customer_id = :c",
        {"c": seeded["native"]},
    )
    assert row is not None
    assert (row[0], row[1]) == ("inactive", seeded["crm_id"])


def test_a_stale_run_log_shows_the_freshness_warning(
    stack: LocalAirflow, seeded: dict[str, Any], tab: Page
) -> None:
    old = db_timestamp(datetime.now(UTC) - timedelta(hours=30))
    _execute(
        stack,
        "UPDATE books.sync_runs SET started_at = :t, finished_at = :t WHERE module = 'Accounts'",
        {"t": old},
    )
    tab.goto(f"{stack.config.url}/crm-books/", ready="document.getElementById('freshness')")
    warning = tab.evaluate("document.getElementById('freshness-warning')?.innerText")
    assert warning and "Accounts 30 h ago" in warning and "26" in warning, warning
    assert "Contacts" not in warning
    tab.shoot("#freshness-warning", SHOTS / "freshness_warning.png", pad=40)
    # At 1,280 px (what shoot lays the page out at) every run table fits, Message column included.
    fits = tab.evaluate(
        "[...document.querySelectorAll('.wide')].map(w => w.scrollWidth <= w.clientWidth"
        " && w.getBoundingClientRect().right <= document.documentElement.clientWidth)"
    )
    assert fits and all(fits), fits
