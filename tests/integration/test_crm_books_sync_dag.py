"""crm_books_sync end to end: the real DAG, the sandbox CRM over HTTP, SQLite and PostgreSQL warehouses.

Each test tells part of the story in issue 4 and checks the warehouse after every step.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from crm_books.warehouse.engine import create_warehouse_engine
from crm_books.warehouse.timestamps import utcnow
from tests.dag_runs import run_dag
from tests.integration.sandbox_client import token_calls

pytestmark = pytest.mark.slow

DAG_ID = "crm_books_sync"
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a scheduled interval start


def account(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "Account_Name": name,
        "Phone": "+1 555 0100",
        "Website": "https://example.com",
        "Billing_City": "Austin",
        "Billing_Country": "USA",
        **fields,
    }


def contact(first: str, last: str, account_id: str | None = None, **fields: Any) -> dict[str, Any]:
    record = {
        "First_Name": first,
        "Last_Name": last,
        "Email": f"{first}.{last}@example.com".lower(),
        "Mailing_City": "Pune",
        **fields,
    }
    if account_id:
        record["Account_Name"] = {"id": account_id, "name": "ignored"}
    return record


def query(uri: str, sql: str, **params: Any) -> list[Any]:
    engine = create_warehouse_engine(uri)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def scalar(uri: str, sql: str, **params: Any) -> Any:
    return query(uri, sql, **params)[0][0]


def snapshot(uri: str) -> list[Any]:
    """The user-visible warehouse state (timestamps of bookkeeping aside)."""
    customers = query(
        uri,
        "SELECT crm_account_id, crm_contact_id, contact_name, phone, email, status,"
        " merged_into_customer_id, crm_modified_time FROM books.customers"
        " ORDER BY customer_id",
    )
    persons = query(
        uri,
        "SELECT crm_contact_id, customer_id, first_name, last_name, email"
        " FROM books.contact_persons ORDER BY crm_contact_id",
    )
    return [customers, persons]


def sync(when: datetime, **conf: Any) -> Any:
    outcome = run_dag(DAG_ID, when, conf)
    return outcome


def assert_success(outcome: Any) -> None:
    assert outcome.state == "success", outcome.task_states


def test_first_import_updates_rerun_and_backfill(airflow_env: Any, warehouse_uri: str) -> None:
    sb = airflow_env
    acme = sb.store.upsert("Accounts", account("Acme Corp", Description="Key account"))
    globex = sb.store.upsert("Accounts", account("Globex"))
    sb.store.upsert("Contacts", contact("Ada", "Lovelace", acme["id"], Salutation="Ms."))
    sb.store.upsert("Contacts", contact("Grace", "Hopper"))  # no account: an individual customer
    sb.advance_clock(timedelta(hours=1))

    # 1. First import on an empty warehouse reads everything.
    first = sync(T0)
    assert_success(first)
    rows = query(
        warehouse_uri,
        "SELECT crm_account_id, crm_contact_id, customer_sub_type, contact_name,"
        " company_name, notes, billing_city, source FROM books.customers"
        " ORDER BY contact_name",
    )
    assert [(r.contact_name, r.customer_sub_type, r.source) for r in rows] == [
        ("Acme Corp", "business", "crm"),
        ("Globex", "business", "crm"),
        ("Grace Hopper", "individual", "crm"),
    ]
    assert rows[0].crm_account_id == acme["id"] and rows[0].notes == "Key account"
    assert rows[2].billing_city == "Pune"  # Mailing_* became the billing address
    person = query(
        warehouse_uri,
        "SELECT p.salutation, p.first_name, p.email, c.crm_account_id,"
        " p.is_primary_contact FROM books.contact_persons p"
        " JOIN books.customers c ON c.customer_id = p.customer_id",
    )
    assert [(p.salutation, p.first_name, p.email, p.crm_account_id) for p in person] == [
        ("Ms.", "Ada", "ada.lovelace@example.com", acme["id"])
    ]
    assert bool(person[0].is_primary_contact)
    log = {
        r.module: r
        for r in query(
            warehouse_uri, "SELECT * FROM books.sync_runs WHERE run_id = :r", r=first.run_id
        )
    }
    assert log["Accounts"].extracted == 2 and log["Accounts"].inserted == 2
    assert log["Contacts"].inserted == 2 and log["Contacts"].status == "success"
    # The org check and both extracts share one access token, and the run log counts the calls.
    assert token_calls(sb) == 1
    assert all(r.api_calls >= 1 and r.api_credits == r.api_calls for r in log.values())
    assert all(r.bulk_jobs == 0 for r in log.values())

    # 2. An update in the CRM reaches Books on the next interval; nothing else changes.
    sb.store.upsert("Accounts", {"id": globex["id"], "Phone": "+44 20 7946 0000"})
    sb.advance_clock(timedelta(hours=1))
    second = sync(T0 + timedelta(hours=12))
    assert_success(second)
    assert (
        scalar(
            warehouse_uri,
            "SELECT phone FROM books.customers WHERE crm_account_id = :i",
            i=globex["id"],
        )
        == "+44 20 7946 0000"
    )
    counts = query(
        warehouse_uri,
        "SELECT inserted, updated FROM books.sync_runs WHERE run_id = :r AND module = 'Accounts'",
        r=second.run_id,
    )[0]
    assert (counts.inserted, counts.updated) == (0, 1)
    after_update = snapshot(warehouse_uri)

    # 3. Re-running a run leaves the warehouse as one run would.
    assert_success(sync(T0 + timedelta(hours=12)))
    assert snapshot(warehouse_uri) == after_update

    # 4. Backfilling an older interval after a newer one regresses nothing.
    assert_success(sync(T0 - timedelta(days=3)))
    assert snapshot(warehouse_uri) == after_update
    assert token_calls(sb) == 1  # four runs, one access token


def test_deletions_and_books_native_customers(airflow_env: Any, warehouse_uri: str) -> None:
    sb = airflow_env
    kept = sb.store.upsert("Accounts", account("Has Invoices Ltd"))
    gone = sb.store.upsert("Accounts", account("No Transactions Inc"))
    leaver = sb.store.upsert("Contacts", contact("Alan", "Turing", kept["id"]))
    stayer = sb.store.upsert("Contacts", contact("Joan", "Clarke", kept["id"]))
    sb.advance_clock(timedelta(hours=1))
    assert_success(sync(T0))

    engine = create_warehouse_engine(warehouse_uri)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO books.customers (source, customer_sub_type, contact_name, email, status,"
                " created_at, updated_at) VALUES ('books', 'business', 'Walk-in Buyer', 'walkin@shop.test',"
                " 'active', :now, :now)"
            ),
            {"now": now},
        )
        kept_id = conn.execute(
            text("SELECT customer_id FROM books.customers WHERE crm_account_id = :i"),
            {"i": kept["id"]},
        ).scalar()
        conn.execute(
            text(
                "INSERT INTO books.invoices (invoice_number, customer_id, status, total, date, created_at,"
                " updated_at) VALUES ('INV-900001', :c, 'sent', 120, '2026-11-01', :now, :now)"
            ),
            {"c": kept_id, "now": now},
        )
    engine.dispose()
    native_before = query(warehouse_uri, "SELECT * FROM books.customers WHERE source = 'books'")

    sb.store.delete("Accounts", kept["id"])
    sb.store.delete("Accounts", gone["id"])
    sb.store.delete("Contacts", leaver["id"])
    sb.advance_clock(timedelta(hours=1))
    outcome = sync(T0 + timedelta(hours=12))
    assert_success(outcome)

    statuses = dict(
        query(
            warehouse_uri, "SELECT crm_account_id, status FROM books.customers WHERE source = 'crm'"
        )
    )
    assert statuses == {kept["id"]: "inactive"}  # kept: it has an invoice; the other is gone
    persons = [
        r[0] for r in query(warehouse_uri, "SELECT crm_contact_id FROM books.contact_persons")
    ]
    assert persons == [stayer["id"]]
    assert (
        query(warehouse_uri, "SELECT * FROM books.customers WHERE source = 'books'")
        == native_before
    )
    log = query(
        warehouse_uri,
        "SELECT SUM(deleted), SUM(inactivated) FROM books.sync_runs WHERE run_id = :r",
        r=outcome.run_id,
    )[0]
    assert (int(log[0]), int(log[1])) == (2, 1)  # one customer + one contact person; one inactive


def test_duplicates_are_flagged_not_merged(airflow_env: Any, warehouse_uri: str) -> None:
    sb = airflow_env
    sb.store.upsert("Accounts", account("Acme Corp", Website="https://www.acme.test"))
    sb.store.upsert("Accounts", account("ACME Corporation", Website="http://acme.test/about"))
    sb.store.upsert(
        "Accounts", account("Initech", Website="https://initech.test", Phone="+1 555 0199")
    )
    sb.advance_clock(timedelta(hours=1))
    assert_success(sync(T0))

    groups = query(
        warehouse_uri,
        "SELECT d.group_key, c.contact_name, d.status, d.match_reason"
        " FROM books.duplicate_candidates d JOIN books.customers c USING (customer_id)"
        " ORDER BY d.group_key, c.contact_name",
    )
    flagged = {r.contact_name for r in groups}
    assert flagged == {"Acme Corp", "ACME Corporation"}
    assert {r.status for r in groups} == {"open"}
    assert (
        scalar(warehouse_uri, "SELECT COUNT(*) FROM books.customers WHERE status = 'active'") == 3
    )

    # Flagging again on the next run adds no second copy of the same candidates.
    before = scalar(warehouse_uri, "SELECT COUNT(*) FROM books.duplicate_candidates")
    sb.advance_clock(timedelta(hours=1))
    assert_success(sync(T0 + timedelta(hours=12)))
    assert scalar(warehouse_uri, "SELECT COUNT(*) FROM books.duplicate_candidates") == before


def test_paused_three_days_misses_nothing(airflow_env: Any, warehouse_uri: str) -> None:
    sb = airflow_env
    first = sb.store.upsert("Accounts", account("Before Pause"))
    sb.advance_clock(timedelta(hours=1))
    assert_success(sync(T0))

    # While the DAG is paused, changes happen over three days.
    changed = []
    for day in range(3):
        sb.advance_clock(timedelta(days=1))
        changed.append(sb.store.upsert("Accounts", account(f"During Pause {day}")))
    sb.store.upsert("Accounts", {"id": first["id"], "Phone": "+1 555 0111"})
    # Resumed: only the latest interval runs (catchup is off), yet every change lands.
    assert_success(sync(T0 + timedelta(days=3, hours=12)))
    names = {r[0] for r in query(warehouse_uri, "SELECT contact_name FROM books.customers")}
    assert names == {"Before Pause", "During Pause 0", "During Pause 1", "During Pause 2"}
    assert (
        scalar(
            warehouse_uri,
            "SELECT phone FROM books.customers WHERE crm_account_id = :i",
            i=first["id"],
        )
        == "+1 555 0111"
    )


def test_malformed_records_are_quarantined_and_the_rest_loads(
    airflow_env: Any, warehouse_uri: str
) -> None:
    sb = airflow_env
    hostile = 'Robert\'); DROP TABLE customers;-- "Ltd"'
    good = [sb.store.upsert("Accounts", account(f"Good Co {i}")) for i in range(10)]
    sb.store.upsert("Accounts", account(hostile))
    sb.store.upsert("Accounts", account("مؤسسة النور"))  # right-to-left name
    nameless = sb.store.upsert("Accounts", account("   "))
    bad_email = sb.store.upsert("Contacts", contact("Eve", "Bad", Email="eve@@example"))
    sb.advance_clock(timedelta(hours=1))
    outcome = sync(T0)
    assert_success(outcome)

    names = {r[0] for r in query(warehouse_uri, "SELECT contact_name FROM books.customers")}
    assert {f"Good Co {i}" for i in range(10)} | {hostile, "مؤسسة النور"} == names
    rejected = {
        r.crm_id: r
        for r in query(
            warehouse_uri, "SELECT crm_id, module, reason, raw_payload FROM books.rejected_records"
        )
    }
    assert set(rejected) == {nameless["id"], bad_email["id"]}
    assert "contact_name" in rejected[nameless["id"]].reason
    assert "eve@@example" in rejected[bad_email["id"]].reason
    assert bad_email["id"] in rejected[bad_email["id"]].raw_payload  # the raw record is kept
    assert len(good) == 10


def test_table_level_failure_loads_nothing(airflow_env: Any, warehouse_uri: str) -> None:
    sb = airflow_env
    for i in range(15):
        sb.store.upsert("Accounts", account(f"Fine {i}"))
    for i in range(10):
        sb.store.upsert("Accounts", account("", Phone=f"+1 555 02{i:02d}"))  # names missing
    sb.advance_clock(timedelta(hours=1))
    outcome = sync(T0)
    assert outcome.state == "failed"
    assert outcome.task_states["validate_records"] == "failed"
    assert outcome.task_states["load_customers"] == "upstream_failed"
    assert scalar(warehouse_uri, "SELECT COUNT(*) FROM books.customers") == 0
    assert scalar(warehouse_uri, "SELECT COUNT(*) FROM books.sync_state") == 0  # nothing advanced
    status, message = query(
        warehouse_uri, "SELECT status, message FROM books.sync_runs WHERE module = 'Accounts'"
    )[0]
    assert status == "failed"
    assert "quality gate failed" in message and "contact_name" in message


def test_another_crm_organisation_is_refused(airflow_env: Any, warehouse_uri: str) -> None:
    sb = airflow_env
    sb.store.upsert("Accounts", account("Home Org Customer"))
    sb.advance_clock(timedelta(hours=1))
    assert_success(sync(T0))
    before = snapshot(warehouse_uri)

    sb.set_org("other-org-9", "Somebody Else")
    sb.store.upsert("Accounts", account("Foreign Customer"))
    sb.advance_clock(timedelta(hours=1))
    outcome = sync(T0 + timedelta(hours=12))
    assert outcome.state == "failed"
    assert outcome.task_states["check_organization"] == "failed"
    assert outcome.task_states["extract_accounts"] == "upstream_failed"
    assert snapshot(warehouse_uri) == before
    assert scalar(warehouse_uri, "SELECT crm_org_id FROM books.crm_organization") == "sandbox-org-1"


def test_contact_waits_for_its_account(airflow_env: Any, warehouse_uri: str) -> None:
    sb = airflow_env
    late = {"id": "5843104000099000001"}
    waiting = sb.store.upsert("Contacts", contact("Wait", "Ing", late["id"]))
    sb.advance_clock(timedelta(hours=1))
    outcome = sync(T0)
    assert_success(outcome)
    assert scalar(warehouse_uri, "SELECT COUNT(*) FROM books.contact_persons") == 0
    assert (
        scalar(warehouse_uri, "SELECT crm_contact_id FROM books.pending_contact_persons")
        == waiting["id"]
    )
    assert (
        scalar(
            warehouse_uri,
            "SELECT held FROM books.sync_runs WHERE run_id = :r AND module = 'Contacts'",
            r=outcome.run_id,
        )
        == 1
    )

    sb.store.upsert("Accounts", {**account("Late Arrival"), "id": late["id"]})
    sb.advance_clock(timedelta(hours=1))
    assert_success(sync(T0 + timedelta(hours=12), modules=["Accounts"]))
    attached = query(
        warehouse_uri,
        "SELECT p.crm_contact_id, c.contact_name FROM books.contact_persons p"
        " JOIN books.customers c ON c.customer_id = p.customer_id",
    )
    assert [tuple(r) for r in attached] == [(waiting["id"], "Late Arrival")]
    assert scalar(warehouse_uri, "SELECT COUNT(*) FROM books.pending_contact_persons") == 0


def test_an_older_crm_version_never_overwrites_a_newer_one(
    airflow_env: Any, warehouse_uri: str
) -> None:
    sb = airflow_env
    record = sb.store.upsert("Accounts", account("Versioned Ltd", Phone="+1 555 0300"))
    sb.advance_clock(timedelta(hours=1))
    assert_success(sync(T0))
    stored_time = scalar(warehouse_uri, "SELECT crm_modified_time FROM books.customers")

    # The CRM now serves a version stamped earlier than the one in Books (a restored backup, a
    # late replica): a full re-read must leave the newer warehouse row alone.
    sb.store.upsert(
        "Accounts",
        {"id": record["id"], "Phone": "+1 555 0999", "Modified_Time": "2026-10-01T00:00:00+00:00"},
        keep_times=True,
    )
    outcome = sync(T0 + timedelta(hours=12), full_refresh=True)
    assert_success(outcome)
    assert scalar(warehouse_uri, "SELECT phone FROM books.customers") == "+1 555 0300"
    assert scalar(warehouse_uri, "SELECT crm_modified_time FROM books.customers") == stored_time
    row = query(
        warehouse_uri,
        "SELECT updated, unchanged FROM books.sync_runs WHERE run_id = :r AND module = 'Accounts'",
        r=outcome.run_id,
    )[0]
    assert (row.updated, row.unchanged) == (0, 1)


def test_contacts_moving_between_individual_and_account(
    airflow_env: Any, warehouse_uri: str
) -> None:
    sb = airflow_env
    acme = sb.store.upsert("Accounts", account("Acme Corp"))
    ada = sb.store.upsert("Contacts", contact("Ada", "Lovelace", acme["id"]))
    grace = sb.store.upsert("Contacts", contact("Grace", "Hopper"))  # an individual customer
    sb.advance_clock(timedelta(hours=1))
    assert_success(sync(T0))

    # Ada leaves Acme, Grace joins it: each ends up in exactly one place in Books.
    sb.store.upsert("Contacts", {"id": ada["id"], "Account_Name": None})
    sb.store.upsert("Contacts", {"id": grace["id"], "Account_Name": {"id": acme["id"]}})
    sb.advance_clock(timedelta(hours=1))
    moved = sync(T0 + timedelta(hours=12))
    assert_success(moved)
    customers = query(
        warehouse_uri,
        "SELECT contact_name, customer_sub_type, status FROM books.customers",
    )
    assert sorted(tuple(r) for r in customers) == [
        ("Acme Corp", "business", "active"),
        ("Ada Lovelace", "individual", "active"),
    ]
    persons = query(
        warehouse_uri,
        "SELECT p.first_name, c.contact_name, p.is_primary_contact FROM books.contact_persons p"
        " JOIN books.customers c ON c.customer_id = p.customer_id",
    )
    assert [(r[0], r[1], bool(r[2])) for r in persons] == [("Grace", "Acme Corp", True)]
    log = query(
        warehouse_uri,
        "SELECT SUM(deleted), SUM(inactivated) FROM books.sync_runs WHERE run_id = :r",
        r=moved.run_id,
    )[0]
    assert (int(log[0]), int(log[1])) == (2, 0)  # Grace's customer and Ada's contact person

    # A backfill of the first interval changes nothing.
    after = snapshot(warehouse_uri)
    assert_success(sync(T0 - timedelta(days=1)))
    assert snapshot(warehouse_uri) == after
