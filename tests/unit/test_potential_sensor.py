"""DealChangesSensor and the potential_reconcile settings: pokes against the sandbox CRM over HTTP
and a real warehouse (SQLite and PostgreSQL), driven through ``poke()`` and ``execute()``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crm_books.deals.reconcile import ReconcileRun, reconcile_deals
from crm_books.deals.sensor import DealChangesSensor
from crm_books.deals.settings import StageSettingError, parse_stage_setting
from crm_books.deals.stages import DEFAULT_STAGES, WorkflowSettingError
from crm_books.deals.work_check import check_for_work, unapplied_deletions, unseen_versions
from crm_books.incremental import read_from
from crm_books.warehouse.timestamps import utcnow

# --- settings (pure) ------------------------------------------------------------------------


def test_unset_or_blank_stage_setting_uses_the_design_defaults() -> None:
    assert parse_stage_setting(None) == DEFAULT_STAGES
    assert parse_stage_setting("  ") == DEFAULT_STAGES
    assert DEFAULT_STAGES.category("Closed Lost to Competition") == "lost"


def test_stage_setting_overrides_one_category_and_keeps_the_other() -> None:
    mapping = parse_stage_setting(json.dumps({"won": ["Signed", " Closed Won "]}))
    assert mapping.category("Signed") == "won"
    assert mapping.category("Closed Won") == "won"
    assert mapping.category("Closed Lost") == "lost"  # default lost list kept
    assert mapping.category("Negotiation") == "open"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{won: [", "books_potential_stages is not valid JSON"),
        ('["Closed Won"]', "books_potential_stages is"),
        ('{"won": "Closed Won"}', "books_potential_stages['won'] must be a list"),
        ('{"wins": ["Closed Won"]}', "books_potential_stages is"),
        ('{"won": ["Done"], "lost": ["done"]}', "cannot be both won and lost"),
    ],
)
def test_bad_stage_setting_names_the_variable_and_the_expected_shape(
    value: str, message: str
) -> None:
    with pytest.raises(StageSettingError, match=message.replace("[", r"\[")) as info:
        parse_stage_setting(value)
    assert "books_potential_stages" in str(info.value)


def test_reads_start_at_the_earlier_of_mark_and_interval_minus_the_overlap() -> None:
    mark = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    start = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    overlap = timedelta(minutes=10)
    assert read_from(start, None, overlap) is None  # never reconciled: read every deal
    assert read_from(start, mark, overlap) == mark - overlap  # a quiet day loses nothing
    assert read_from(mark - timedelta(days=1), mark, overlap) == mark - timedelta(
        days=1, minutes=10
    )
    assert read_from(None, mark, overlap) == mark - overlap


def test_records_at_the_mark_are_news_only_when_the_warehouse_has_an_older_or_no_version() -> None:
    mark = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    page = [
        {"id": "1", "Modified_Time": "2026-11-02T14:30:00+05:30"},  # = the mark, recorded
        {"id": "2", "Modified_Time": "2026-11-02T09:00:00+00:00"},  # same second, never seen
        {"id": "3", "Modified_Time": "2026-11-02T09:00:01+00:00"},  # newer than recorded
    ]
    known = {"1": (mark, "processed"), "3": (mark, "pending")}
    assert unseen_versions(page, known) == 2
    assert unseen_versions(page[:1], known) == 0
    deletions = [{"id": "1"}, {"id": "3"}, {"id": "9"}]  # 9 was never seen by the warehouse
    assert unapplied_deletions(deletions, {**known, "3": (mark, "deleted")}) == 1


# --- pokes against the sandbox and a warehouse ----------------------------------------------


@pytest.fixture
def crm(
    sandbox: Any, warehouse: Engine, warehouse_uri: str, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """The zoho_crm and books_warehouse connections point at this test's sandbox and warehouse."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_ZOHO_CRM",
        json.dumps(
            {
                "conn_type": "http",
                "host": sandbox.base_url,
                "login": sandbox.client_id,
                "password": sandbox.client_secret,
                "extra": {
                    "refresh_token": sandbox.refresh_token,
                    "accounts_url": sandbox.accounts_url,
                },
            }
        ),
    )
    monkeypatch.setenv("AIRFLOW_CONN_BOOKS_WAREHOUSE", warehouse_uri)
    monkeypatch.setenv("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW", "estimate")
    return sandbox


@pytest.fixture
def sensor() -> Iterator[DealChangesSensor]:
    yield DealChangesSensor(task_id="wait_for_deal_changes", poke_interval=0.1, timeout=0.5)


def client() -> Any:
    from crm_books.zoho.hook import crm_client

    return crm_client()


def deal(sb: Any, account: str = "A1", **fields: Any) -> dict[str, Any]:
    sb.advance_clock(timedelta(seconds=5))
    record = {
        "Deal_Name": "Pilot",
        "Amount": 100,
        "Stage": "Qualification",
        "Account_Name": {"id": account, "name": account},
        "Closing_Date": "2026-11-30",
        **fields,
    }
    return dict(sb.store.upsert("Deals", record))


def add_customer(engine: Engine, account: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO books.customers (crm_account_id, customer_sub_type, contact_name,"
                " created_at, updated_at) VALUES (:a, 'business', :a, :now, :now)"
            ),
            {"a": account, "now": utcnow()},
        )


def reconcile(engine: Engine, run_id: str) -> dict[str, Any]:
    run = ReconcileRun(run_id=run_id, workflow="estimate", today=date(2026, 11, 2))
    return reconcile_deals(engine, client(), run)


def test_quiet_crm_keeps_waiting_and_each_change_wakes_the_sensor(
    crm: Any, warehouse: Engine, sensor: DealChangesSensor
) -> None:
    sb = crm
    add_customer(warehouse, "A1")
    assert sensor.poke({}) is False  # no deals at all (204)

    d1 = deal(sb)
    assert sensor.poke({}) is True
    reconcile(warehouse, "r1")
    # If-Modified-Since = the mark returns the reconciled deal itself: not news.
    assert sensor.poke({}) is False
    sb.advance_clock(timedelta(hours=1))
    assert sensor.poke({}) is False

    sb.store.upsert("Deals", {"id": d1["id"], "Stage": "Closed Won"})
    assert check_for_work(warehouse, client()).changed_deals == 1
    reconcile(warehouse, "r2")
    assert sensor.poke({}) is False


def test_a_deal_created_in_the_same_second_as_the_mark_is_news(
    crm: Any, warehouse: Engine, sensor: DealChangesSensor
) -> None:
    sb = crm
    deal(sb)
    reconcile(warehouse, "r1")
    sb.store.upsert("Deals", {"Deal_Name": "Same second", "Stage": "Qualification"})
    assert check_for_work(warehouse, client()).changed_deals == 1


def test_deals_sharing_the_mark_across_pages_are_not_news_until_one_more_arrives(
    crm: Any, warehouse: Engine
) -> None:
    from crm_books.zoho.hook import ZohoCrmHook

    sb = crm
    add_customer(warehouse, "A1")
    sb.advance_clock(timedelta(seconds=5))
    for n in range(5):  # a mass update: five deals modified in the same second
        sb.store.upsert("Deals", {"Deal_Name": f"Bulk {n}", "Account_Name": {"id": "A1"}})
    reconcile(warehouse, "r1")
    small_pages = ZohoCrmHook().get_client(per_page=2)
    assert check_for_work(warehouse, small_pages).ready is False  # three pages, all recorded
    sb.store.upsert("Deals", {"Deal_Name": "Bulk 5", "Account_Name": {"id": "A1"}})
    assert check_for_work(warehouse, small_pages).changed_deals == 1


def test_arrived_customer_of_a_pending_deal_wakes_the_sensor(
    crm: Any, warehouse: Engine, sensor: DealChangesSensor
) -> None:
    sb = crm
    deal(sb, account="A7")
    reconcile(warehouse, "r1")
    with warehouse.connect() as conn:
        assert conn.execute(text("SELECT state FROM books.deals")).scalar_one() == "pending"
    assert sensor.poke({}) is False  # still waiting for its customer

    add_customer(warehouse, "A7")
    found = check_for_work(warehouse, client())
    assert (found.arrived_customers, found.changed_deals) == (1, 0)
    assert sensor.poke({}) is True
    reconcile(warehouse, "r2")
    assert sensor.poke({}) is False


def test_deletion_of_a_reconciled_deal_wakes_the_sensor_once(
    crm: Any, warehouse: Engine, sensor: DealChangesSensor
) -> None:
    sb = crm
    add_customer(warehouse, "A1")
    d1 = deal(sb)
    gone_before_seen = deal(sb)
    assert sb.store.delete("Deals", gone_before_seen["id"])
    reconcile(warehouse, "r1")
    # A deal deleted before the warehouse saw it is no work.
    assert sensor.poke({}) is False

    sb.advance_clock(timedelta(seconds=5))
    assert sb.store.delete("Deals", d1["id"])
    assert check_for_work(warehouse, client()).deleted_deals == 1
    reconcile(warehouse, "r2")
    assert sensor.poke({}) is False


def test_quiet_period_ends_as_a_skip_not_a_failure(
    crm: Any, warehouse: Engine, sensor: DealChangesSensor
) -> None:
    from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

    quiet = DealChangesSensor(
        task_id="wait_for_deal_changes", poke_interval=0.1, timeout=0.3, soft_fail=True
    )
    started = datetime.now(UTC)
    with pytest.raises(AirflowSkipException, match="timed out"):
        quiet.execute({})
    assert datetime.now(UTC) - started < timedelta(seconds=30)

    strict = DealChangesSensor(task_id="wait_for_deal_changes", poke_interval=0.1, timeout=0.3)
    with pytest.raises(AirflowSensorTimeout):
        strict.execute({})


def test_unknown_setting_fails_the_poke_with_the_valid_values(
    crm: Any, sensor: DealChangesSensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW", "quote")
    with pytest.raises(WorkflowSettingError, match="one of: estimate, invoice, off"):
        sensor.poke({})


def test_unset_setting_means_off_and_the_sensor_still_watches(
    crm: Any, sensor: DealChangesSensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW")
    deal(crm)
    assert sensor.poke({}) is True


def test_twenty_pokes_share_one_access_token(
    crm: Any, warehouse: Engine, sensor: DealChangesSensor
) -> None:
    # Each poke builds a new client (in production a new process); they share the warehouse's.
    for _ in range(20):
        assert sensor.poke({}) is False
    assert crm.stats["by_path"]["/oauth/v2/token"] == 1
