"""The `make airflow` stack end to end: REST-API trigger of crm_books_sync, auth, and the page in chromium."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from crm_books.warehouse.engine import create_warehouse_engine
from crm_books.warehouse.timestamps import db_timestamp
from devtools.local_airflow import LocalAirflow, StackConfig
from tests.ui.chromium import browser, require_chromium

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
OUTPUT_DIR = Path(os.environ.get("CRM_BOOKS_TEST_OUTPUT", ROOT / "data" / "test-output" / "ui"))
SANDBOX_SIZES = {"accounts": 40, "contacts": 120, "deals": 10}
PARSE_TIMEOUT = 120
RUN_TIMEOUT = 300
HOSTILE_NAME = "ACME <script>alert('pwned')</script> & \"Sons\""
HOSTILE_DEAL = "<img src=x onerror=alert(1)>"
HOSTILE_REASON = "Email: <b>not an email</b> & rejected"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAirflow]:
    """What `make airflow` runs, on free ports, a fresh Airflow home and a fresh warehouse."""
    base = tmp_path_factory.mktemp("local-airflow")
    config = StackConfig(
        home=base / "airflow",
        warehouse_path=base / "books.db",
        port=_free_port(),
        sandbox_port=_free_port(),
        sandbox_sizes=SANDBOX_SIZES,
    )
    # The stack gets its own Airflow settings, not the ones tests/conftest.py set for this process.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CRM_BOOKS_"))}
    started = time.monotonic()
    with LocalAirflow(config, base_env=env) as running:
        running.wait_healthy(timeout=240)
        print(f"\nstack healthy after {time.monotonic() - started:.1f} s")
        yield running


def _api(stack: LocalAirflow, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.config.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


@pytest.fixture(scope="module")
def synced(stack: LocalAirflow) -> dict[str, Any]:
    """Trigger crm_books_sync through the REST API (unpaused first) and wait for the run to end."""
    started = time.monotonic()
    with _api(stack, stack.token()) as api:
        deadline = time.monotonic() + PARSE_TIMEOUT
        while api.get("/api/v2/dags/crm_books_sync").status_code != 200:
            assert time.monotonic() < deadline, "crm_books_sync was never parsed"
            time.sleep(2)
        api.patch("/api/v2/dags/crm_books_sync", json={"is_paused": False}).raise_for_status()
        response = api.post(
            "/api/v2/dags/crm_books_sync/dagRuns",
            json={"logical_date": datetime.now(UTC).isoformat(), "conf": {}},
        )
        assert response.status_code == 200, response.text
        run_id = response.json()["dag_run_id"]
        deadline = time.monotonic() + RUN_TIMEOUT
        state = "queued"
        while state not in ("success", "failed") and time.monotonic() < deadline:
            time.sleep(3)
            state = api.get(f"/api/v2/dags/crm_books_sync/dagRuns/{run_id}").json()["state"]
        tasks = api.get(f"/api/v2/dags/crm_books_sync/dagRuns/{run_id}/taskInstances").json()
    elapsed = time.monotonic() - started
    print(f"\ncrm_books_sync run {run_id} ended {state} after {elapsed:.1f} s")
    return {
        "run_id": run_id,
        "state": state,
        "elapsed": elapsed,
        "tasks": {t["task_id"]: t["state"] for t in tasks["task_instances"]},
    }


def _scalar(stack: LocalAirflow, sql: str, **params: Any) -> Any:
    engine = create_warehouse_engine(stack.config.warehouse_uri)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def test_rest_api_trigger_of_crm_books_sync_completes(
    stack: LocalAirflow, synced: dict[str, Any]
) -> None:
    assert synced["state"] == "success", synced["tasks"]
    assert synced["elapsed"] < PARSE_TIMEOUT + RUN_TIMEOUT
    customers = _scalar(stack, "SELECT COUNT(*) FROM books.customers")
    # Every CRM customer in the warehouse was inserted by a logged sync run (accounts + loose contacts).
    inserted = _scalar(stack, "SELECT SUM(inserted) FROM books.sync_runs WHERE status = 'success'")
    assert customers > 0
    assert customers <= SANDBOX_SIZES["accounts"] + SANDBOX_SIZES["contacts"]
    assert (
        _scalar(stack, "SELECT COUNT(*) FROM books.sync_runs WHERE run_id = :r", r=synced["run_id"])
        == 2
    )
    assert inserted >= customers


def test_plugin_routes_refuse_anonymous_requests_on_the_live_server(stack: LocalAirflow) -> None:
    url = f"{stack.config.url}/crm-books/"
    assert httpx.get(url, timeout=30).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer forged"}, timeout=30).status_code == 403
    token = stack.token()
    page = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert page.status_code == 200
    assert "<h1>CRM → Books</h1>" in page.text
    # The same token works the way the UI sends it: the _token cookie.
    assert httpx.get(url, cookies={"_token": token}, timeout=30).status_code == 200
    plugins = httpx.get(
        f"{stack.config.url}/api/v2/plugins",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()["plugins"]
    ours = next(p for p in plugins if p["name"] == "crm_books_ui")
    assert [v["name"] for v in ours["external_views"]] == ["CRM → Books"]
    assert ours["external_views"][0]["href"] == "/crm-books/"


def _seed_known_rows(stack: LocalAirflow) -> dict[str, Any]:
    """Rows the sync does not produce on its own: a duplicate pair, a hand-edited estimate,
    a pending deal and a rejected record, with hostile strings in them."""
    now = db_timestamp(datetime.now(UTC))
    engine = create_warehouse_engine(stack.config.warehouse_uri)
    try:
        with engine.begin() as conn:
            crm_id = conn.execute(
                text(
                    "SELECT MIN(customer_id) FROM books.customers WHERE source = 'crm'"
                    " AND status = 'active'"
                )
            ).scalar()
            native_id = conn.execute(
                text(
                    "INSERT INTO books.customers (source, customer_sub_type, contact_name, status,"
                    " created_at, updated_at) VALUES ('books', 'business', :name, 'active', :t, :t)"
                    " RETURNING customer_id"
                ),
                {"name": HOSTILE_NAME, "t": now},
            ).scalar()
            conn.execute(
                text(
                    "INSERT INTO books.duplicate_candidates (group_key, customer_id, match_reason,"
                    " status, first_flagged_run_id, flagged_at)"
                    " VALUES ('ui-test', :c, 'name', 'open', 'ui-test', :t)"
                ),
                [{"c": crm_id, "t": now}, {"c": native_id, "t": now}],
            )
            conn.execute(
                text(
                    "INSERT INTO books.estimates (estimate_number, customer_id, crm_deal_id, status,"
                    " workflow_status, total, date, created_at, updated_at)"
                    " VALUES ('EST-UI-1', :c, 'ui-deal-0', 'declined', 'sent', 1234.5,"
                    " '2026-11-20', :t, :t)"
                ),
                {"c": crm_id, "t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO books.deals (crm_deal_id, deal_name, amount, stage, crm_account_id,"
                    " state, pending_reason, updated_at)"
                    " VALUES ('ui-deal-1', :n, 99.99, 'Qualification', 'acct-missing', 'pending',"
                    " 'account acct-missing is not in Books yet', :t)"
                ),
                {"n": HOSTILE_DEAL, "t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO books.rejected_records (run_id, module, crm_id, reason, raw_payload,"
                    " rejected_at) VALUES ('ui-test', 'Contacts', 'c-ui-1', :r, :p, :t)"
                ),
                {"r": HOSTILE_REASON, "p": json.dumps({"Email": "<b>x</b>"}), "t": now},
            )
    finally:
        engine.dispose()
    return {"crm_id": crm_id, "native_id": native_id}


def _text_of(dom: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', dom)
    assert match, f"#{element_id} is not on the page"
    return unescape(match.group(1))


def test_page_in_headless_chromium_matches_the_warehouse(
    stack: LocalAirflow, synced: dict[str, Any]
) -> None:
    executable = require_chromium()
    assert synced["state"] == "success"
    ids = _seed_known_rows(stack)
    customers = _scalar(stack, "SELECT COUNT(*) FROM books.customers")
    rejected = _scalar(stack, "SELECT COUNT(*) FROM books.rejected_records")
    accounts_inserted = _scalar(
        stack,
        "SELECT inserted FROM books.sync_runs WHERE run_id = :r AND module = 'Accounts'",
        r=synced["run_id"],
    )
    base = stack.config.url
    started = time.monotonic()
    with browser(executable) as tab:
        # Not logged in: the page refuses and points at Airflow's login.
        tab.goto(f"{base}/crm-books/")
        assert "Log in to Airflow first" in tab.evaluate("document.body.innerText")
        # Logged in the way the Airflow UI is: the JWT from POST /auth/token in the _token cookie.
        tab.call("Network.setCookie", name="_token", value=stack.token(), url=f"{base}/")
        tab.goto(f"{base}/crm-books/", ready="document.getElementById('customers-total')")
        dom = tab.evaluate("document.documentElement.outerHTML")
        scripts = tab.evaluate("document.querySelectorAll('script:not(#crm-books-js), img').length")
        shot = tab.screenshot(OUTPUT_DIR / "crm_books_page.png")
        # The same page inside the Airflow UI, reached from the navigation entry.
        tab.goto(
            f"{base}/plugin/crm-books",
            ready="document.querySelector('iframe')?.contentDocument"
            "?.getElementById('customers-total')",
        )
        nav_text = tab.evaluate("document.body.innerText")
        framed = tab.screenshot(OUTPUT_DIR / "crm_books_in_airflow_ui.png")
        # A merge link, resolved against the page's URL, is a real page of the Airflow UI.
        merge_url = tab.evaluate(
            "document.querySelector('iframe').contentDocument.querySelector('a.merge-link').href"
        )
        tab.goto(merge_url, ready="document.body.innerText.includes('books_merge_customers')")
        merge_text = tab.evaluate("document.body.innerText")
    print(f"\nbrowser part took {time.monotonic() - started:.1f} s; screenshots {shot}, {framed}")
    (OUTPUT_DIR / "crm_books_page.html").write_text(dom, encoding="utf-8")

    assert int(_text_of(dom, "customers-total")) == customers
    assert int(_text_of(dom, "rejected-records-total")) == rejected
    assert re.search(r'id="customer-trend-chart"[^>]*data-total="(\d+)"', dom).group(1) == str(
        customers
    )
    run_row = re.search(
        rf"<tr><td data-field=\"module\">Accounts</td><td data-field=\"run_id\"[^>]*>"
        rf"{re.escape(synced['run_id'])}</td>.*?data-field=\"inserted\" class=\"n\">(\d+)<",
        dom,
    )
    assert run_row and int(run_row.group(1)) == accounts_inserted
    # Hostile values are shown as text, never as markup.
    assert scripts == 0
    assert "&lt;script&gt;alert('pwned')&lt;/script&gt; &amp; \"Sons\"" in dom
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom
    assert "Email: &lt;b&gt;not an email&lt;/b&gt; &amp; rejected" in dom
    assert "EST-UI-1" in dom and "1,234.50" in dom
    # The merge buttons carry the group's Params; the link opens the merge DAG's page.
    hrefs = set(re.findall(r'class="merge-link muted"[^>]*href="([^"]+)"', dom))
    assert hrefs == {"../dags/books_merge_customers"}
    confs = [json.loads(unescape(c)) for c in re.findall(r'<code class="merge-conf">([^<]+)<', dom)]
    assert {
        "master_customer_id": ids["crm_id"],
        "merge_customer_ids": [ids["native_id"]],
        "dry_run": True,
    } in confs
    assert merge_url == f"{base}/dags/books_merge_customers"
    assert "Page Not Found" not in merge_text
    assert "CRM → Books" in nav_text
    assert shot.stat().st_size > 20_000 and framed.stat().st_size > 20_000


def test_make_airflow_prints_url_and_login_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    """The command behind `make airflow`, run as a user would: banner, working login, Ctrl-C."""
    port, sandbox_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CRM_BOOKS_"))}
    env.update({"AIRFLOW_PORT": str(port), "SANDBOX_PORT": str(sandbox_port)})
    command = [sys.executable, "-m", "devtools.local_airflow", "--home", str(tmp_path / "home")]
    command += ["--warehouse", str(tmp_path / "books.db"), "--timeout", "240"]
    out = (tmp_path / "out.log").open("w+")
    proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    started = time.monotonic()
    try:
        while "Press Ctrl-C" not in (tmp_path / "out.log").read_text():
            assert proc.poll() is None, (tmp_path / "out.log").read_text()
            assert time.monotonic() - started < 300, "make airflow did not come up"
            time.sleep(1)
        banner = (tmp_path / "out.log").read_text()
        print(f"\nmake airflow up after {time.monotonic() - started:.1f} s")
        assert f"Airflow is up: http://127.0.0.1:{port}" in banner
        assert "login: admin / admin" in banner
        login = httpx.post(
            f"http://127.0.0.1:{port}/auth/token",
            json={"username": "admin", "password": "admin"},
            timeout=30,
        )
        assert login.status_code == 201
        ui = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert ui.status_code == 200 and "<html" in ui.text
        assert httpx.get(f"http://127.0.0.1:{sandbox_port}/crm/v8/org", timeout=30).status_code
        proc.send_signal(signal.SIGINT)  # what Ctrl-C delivers
        # stop() gives the parts 20 s to exit, then kills each (5 s wait per part).
        assert proc.wait(90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        out.close()
    for p in (port, sandbox_port):
        with socket.socket() as s, pytest.raises(OSError):
            s.connect(("127.0.0.1", p))


def _first_run_to_end(api: httpx.Client, dag_id: str) -> dict[str, Any]:
    """Unpause dag_id, trigger it, and wait for its first run to end. Unpausing also schedules
    the latest interval, which may run first; with max_active_runs=1 the triggered run then
    waits for new CRM changes, so whichever run ends first is the one that read the settings."""
    api.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
    response = api.post(
        f"/api/v2/dags/{dag_id}/dagRuns",
        json={"logical_date": datetime.now(UTC).isoformat(), "conf": {}},
    )
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        runs = api.get(f"/api/v2/dags/{dag_id}/dagRuns").json()["dag_runs"]
        if ended := [r for r in runs if r["state"] in ("success", "failed")]:
            run_id = ended[0]["dag_run_id"]
            tasks = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()
            states = {t["task_id"]: t["state"] for t in tasks["task_instances"]}
            return {"state": ended[0]["state"], "tasks": states}
        time.sleep(3)
    raise AssertionError(f"no {dag_id} run ended within {RUN_TIMEOUT} s")


def test_settings_live_in_the_metadata_db_and_a_change_outlives_a_restart(
    stack: LocalAirflow, synced: dict[str, Any]
) -> None:
    """Issue 11 defect 7: the UI's Variable decides the next run, and a restart keeps it."""
    assert synced["state"] == "success"
    variable_url = "/api/v2/variables/books_potential_workflow"
    with _api(stack, stack.token()) as api:
        # Seeded into the metadata DB, so Admin -> Connections / Variables lists them.
        assert api.get(variable_url).json()["value"] == "estimate"
        crm = api.get("/api/v2/connections/zoho_crm").json()
        assert (crm["conn_type"], crm["host"]) == ("http", stack.config.sandbox_url)
        warehouse = api.get("/api/v2/connections/books_warehouse").json()
        assert warehouse["schema"] == str(stack.config.warehouse_path.resolve())
        # A user switches the workflow off and annotates a connection, as the UI does.
        api.patch(
            variable_url, json={"key": "books_potential_workflow", "value": "off"}
        ).raise_for_status()
        api.patch(
            "/api/v2/connections/zoho_crm",
            params={"update_mask": "description"},
            json={"connection_id": "zoho_crm", "conn_type": "http", "description": "edited"},
        ).raise_for_status()
        documents = _scalar(stack, "SELECT COUNT(*) FROM books.estimates")
        run = _first_run_to_end(api, "potential_reconcile")
    assert run["state"] == "success", run
    assert run["tasks"]["reconcile_deals"] == "success", run
    # The run recorded the CRM's deals, some for synced customers, and made no document.
    assert _scalar(
        stack,
        "SELECT COUNT(*) FROM books.deals d JOIN books.customers c"
        " ON c.crm_account_id = d.crm_account_id",
    )
    assert _scalar(stack, "SELECT COUNT(*) FROM books.estimates") == documents
    assert _scalar(stack, "SELECT COUNT(*) FROM books.invoices") == 0

    # `make airflow` again on the same home: seeding keeps what the user changed.
    stack.stop()
    stack.start()
    stack.wait_healthy(timeout=240)
    with _api(stack, stack.token()) as api:
        assert api.get(variable_url).json()["value"] == "off"
        assert api.get("/api/v2/connections/zoho_crm").json()["description"] == "edited"
