"""ui_queries on SQLite and PostgreSQL: what the "CRM -> Books" page reads from the warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crm_books.customers.merge_rules import Customer
from crm_books.warehouse.engine import create_warehouse_engine
from crm_books.warehouse.timestamps import db_timestamp
from crm_books_ui.freshness import DEFAULT_THRESHOLD, BadThreshold, freshness, threshold_hours
from crm_books_ui.queries import (
    DuplicateCustomer,
    choose_master,
    cumulative_trend,
    load_dashboard,
    payload_preview,
)

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def _ts(dt: datetime) -> str | None:
    return db_timestamp(dt)


def _customer(
    conn: Any,
    name: str,
    *,
    source: str = "crm",
    crm: str | None = None,
    created: datetime = T0,
    status: str = "active",
) -> int:
    return int(
        conn.execute(
            text(
                "INSERT INTO books.customers (source, crm_account_id, customer_sub_type, contact_name,"
                " email, status, created_at, updated_at)"
                " VALUES (:s, :crm, 'business', :n, :e, :st, :c, :c) RETURNING customer_id"
            ),
            {
                "s": source,
                "crm": crm,
                "n": name,
                "e": f"{name.lower()}@example.com",
                "st": status,
                "c": _ts(created),
            },
        ).scalar()
    )


def _sync_run(
    conn: Any, run_id: str, module: str, started: datetime, status: str = "success", **counts: int
) -> None:
    conn.execute(
        text(
            "INSERT INTO books.sync_runs (run_id, module, status, extracted, inserted, updated,"
            " rejected, api_credits, started_at, finished_at)"
            " VALUES (:r, :m, :st, :x, :i, :u, :rej, :credits, :s, :s)"
        ),
        {
            "st": status,
            "r": run_id,
            "m": module,
            "s": _ts(started),
            "x": counts.get("extracted", 0),
            "i": counts.get("inserted", 0),
            "u": counts.get("updated", 0),
            "rej": counts.get("rejected", 0),
            "credits": counts.get("api_credits", 0),
        },
    )


def _dashboard(warehouse: Engine, **kwargs: Any):  # type: ignore[no-untyped-def]
    engine = create_warehouse_engine(
        warehouse.url.render_as_string(hide_password=False)
        if warehouse.dialect.name == "postgresql"
        else _sqlite_uri(warehouse),
        read_only=True,
    )
    try:
        return load_dashboard(engine, **kwargs)
    finally:
        engine.dispose()


def _sqlite_uri(warehouse: Engine) -> str:
    with warehouse.connect() as conn:
        path = next(r[2] for r in conn.exec_driver_sql("PRAGMA database_list") if r[1] == "books")
    return f"sqlite:///{path}"


def test_an_empty_warehouse_shows_empty_sections(warehouse: Engine) -> None:
    d = _dashboard(warehouse)
    assert (d.customers_total, d.sync_runs, d.trend, d.duplicate_groups) == (0, (), (), ())
    assert (d.locked_documents, d.pending_deals, d.rejected_records) == ((), (), ())
    assert d.totals == {
        "locked_documents": 0,
        "pending_deals": 0,
        "rejected_records": 0,
        "duplicate_groups": 0,
    }


def test_last_sync_runs_are_the_newest_per_module_with_their_counts(warehouse: Engine) -> None:
    with warehouse.begin() as conn:
        for i in range(3):
            _sync_run(
                conn,
                f"run-{i}",
                "Accounts",
                T0 + timedelta(hours=12 * i),
                extracted=10 + i,
                inserted=i,
                updated=2 * i,
            )
        _sync_run(conn, "run-0", "Contacts", T0, extracted=7, rejected=3, api_credits=5)
    runs = _dashboard(warehouse, runs_per_module=2).sync_runs
    assert [(r.module, r.run_id) for r in runs] == [
        ("Accounts", "run-2"),
        ("Accounts", "run-1"),
        ("Contacts", "run-0"),
    ]
    assert runs[0].counts["extracted"] == 12 and runs[0].counts["updated"] == 4
    assert runs[2].counts["rejected"] == 3 and runs[2].counts["api_credits"] == 5
    assert runs[0].started_at == T0 + timedelta(hours=24)


def test_customer_trend_is_a_running_total_per_utc_day(warehouse: Engine) -> None:
    with warehouse.begin() as conn:
        _customer(conn, "A", crm="a1", created=datetime(2026, 11, 1, 0, 5, tzinfo=UTC))
        # 23:30 UTC on the 1st is already the 2nd in India: days are UTC days.
        _customer(conn, "B", crm="a2", created=datetime(2026, 11, 1, 23, 30, tzinfo=UTC))
        _customer(conn, "C", crm="a3", created=datetime(2026, 11, 3, 8, 0, tzinfo=UTC))
    d = _dashboard(warehouse)
    assert [(p.day, p.created, p.total) for p in d.trend] == [
        (date(2026, 11, 1), 2, 2),
        (date(2026, 11, 3), 1, 3),
    ]
    assert d.customers_total == 3


def test_open_duplicates_are_grouped_with_the_crm_customer_as_master(warehouse: Engine) -> None:
    with warehouse.begin() as conn:
        native = _customer(conn, "Acme", source="books")
        crm = _customer(conn, "ACME Ltd", crm="a1")
        other = _customer(conn, "Globex", crm="a2")
        other2 = _customer(conn, "Globex Inc", crm="a3")
        rows = [
            ("g-acme", native, "open"),
            ("g-acme", crm, "open"),
            ("g-globex", other, "dismissed"),
            ("g-globex", other2, "dismissed"),
        ]
        for key, cid, status in rows:
            conn.execute(
                text(
                    "INSERT INTO books.duplicate_candidates (group_key, customer_id, match_reason,"
                    " status, first_flagged_run_id, flagged_at) VALUES (:k, :c, 'name', :s, 'r', :t)"
                ),
                {"k": key, "c": cid, "s": status, "t": _ts(T0)},
            )
    d = _dashboard(warehouse)
    assert len(d.duplicate_groups) == 1 and d.totals["duplicate_groups"] == 1
    group = d.duplicate_groups[0]
    assert group.proposal.master_customer_id == crm
    assert group.proposal.merge_customer_ids == (native,)
    assert [c.customer.customer_id for c in group.customers] == sorted([native, crm])


def _document(
    conn: Any, table: str, number: str, customer: int, status: str, workflow: str | None, total: str
) -> None:
    key = "estimate_number" if table == "estimates" else "invoice_number"
    conn.execute(
        text(
            f"INSERT INTO books.{table} ({key}, customer_id, crm_deal_id, status, workflow_status,"
            " total, date, created_at, updated_at) VALUES (:n, :c, :d, :s, :w, :t, '2026-11-02', :u, :u)"
        ),
        {
            "n": number,
            "c": customer,
            "d": f"deal-{number}",
            "s": status,
            "w": workflow,
            "t": float(total),
            "u": _ts(T0),
        },
    )


def test_locked_documents_are_those_a_person_changed(warehouse: Engine) -> None:
    with warehouse.begin() as conn:
        cid = _customer(conn, "Acme", crm="a1")
        _document(conn, "estimates", "EST-1", cid, "sent", "sent", "10")  # untouched
        _document(conn, "estimates", "EST-2", cid, "declined", "sent", "1234.5")  # edited
        _document(conn, "estimates", "EST-3", cid, "draft", None, "5")  # made by hand in Books
        _document(conn, "invoices", "INV-1", cid, "paid", "sent", "99.99")  # edited
    d = _dashboard(warehouse)
    locked = {(x.document_type, x.document_number): x for x in d.locked_documents}
    assert set(locked) == {("estimate", "EST-2"), ("invoice", "INV-1")}
    assert locked["estimate", "EST-2"].total == Decimal("1234.50")
    assert (locked["invoice", "INV-1"].status, locked["invoice", "INV-1"].workflow_status) == (
        "paid",
        "sent",
    )
    assert locked["invoice", "INV-1"].date == "2026-11-02"
    assert d.totals["locked_documents"] == 2


def test_pending_deals_and_rejected_records_latest_first_and_capped(warehouse: Engine) -> None:
    with warehouse.begin() as conn:
        for i, state in enumerate(["pending", "processed", "pending", "deleted"]):
            conn.execute(
                text(
                    "INSERT INTO books.deals (crm_deal_id, deal_name, amount, state, pending_reason,"
                    " updated_at) VALUES (:d, :n, 12.5, :s, :r, :u)"
                ),
                {
                    "d": f"d{i}",
                    "n": f"Deal {i}",
                    "s": state,
                    "r": "account not in Books",
                    "u": _ts(T0 + timedelta(minutes=i)),
                },
            )
        for i in range(5):
            conn.execute(
                text(
                    "INSERT INTO books.rejected_records (run_id, module, crm_id, reason, raw_payload,"
                    " rejected_at) VALUES ('r1', 'Contacts', :c, :why, :p, :t)"
                ),
                {
                    "c": f"c{i}",
                    "why": f"reason {i}",
                    "p": '{"Email": "x@"}',
                    "t": _ts(T0 + timedelta(minutes=i)),
                },
            )
    d = _dashboard(warehouse, limit=3)
    assert [p.crm_deal_id for p in d.pending_deals] == ["d2", "d0"]
    assert d.pending_deals[0].amount == Decimal("12.50")
    assert [r.crm_id for r in d.rejected_records] == ["c4", "c3", "c2"]
    assert d.rejected_records[0].raw_payload == '{"Email":"x@"}'
    assert d.totals["rejected_records"] == 5 and d.totals["pending_deals"] == 2


def test_cumulative_trend_sorts_days_and_merges_repeats() -> None:
    rows = [
        {"day": "2026-11-03", "created": 1},
        {"day": "2026-11-01", "created": 2},
        {"day": "2026-11-03", "created": 4},
    ]
    assert [(p.day.isoformat(), p.total) for p in cumulative_trend(rows)] == [
        ("2026-11-01", 2),
        ("2026-11-03", 7),
    ]


def test_master_is_crm_linked_even_when_a_books_customer_is_older() -> None:
    def c(cid: int, source: str) -> DuplicateCustomer:
        crm = f"acc-{cid}" if source == "crm" else None
        return DuplicateCustomer(Customer(cid, source, crm, None, "x", "active", None), None, None)

    assert choose_master([c(1, "books"), c(7, "crm"), c(5, "crm")]).customer.customer_id == 5
    assert choose_master([c(3, "books"), c(2, "books")]).customer.customer_id == 2


def test_payload_preview_is_one_compact_line_and_cut() -> None:
    assert payload_preview('{"a": 1,\n "b": "x"}') == '{"a":1,"b":"x"}'
    assert payload_preview("not json\n at all") == "not json at all"
    cut = payload_preview("x" * 500, limit=50)
    assert len(cut) == 50 and cut.endswith("…")


def test_backfill_runs_are_listed_apart_and_do_not_hide_scheduled_runs(warehouse: Engine) -> None:
    with warehouse.begin() as conn:
        for i in range(2):
            _sync_run(conn, f"scheduled__2026-11-0{i + 1}", "Accounts", T0 + timedelta(days=i))
        for i in range(5):  # newer than every scheduled run
            _sync_run(conn, f"backfill__2026-10-{10 + i}", "Accounts", T0 + timedelta(days=5 + i))
        _sync_run(conn, "manual__x", "Contacts", T0 + timedelta(days=9))
    runs = _dashboard(warehouse, runs_per_module=3).sync_runs
    kinds = [(r.run_kind, r.run_id) for r in runs]
    assert kinds[:2] == [
        ("scheduled", "scheduled__2026-11-02"),
        ("scheduled", "scheduled__2026-11-01"),
    ]
    assert ("manual", "manual__x") in kinds
    assert [k for k in kinds if k[0] == "backfill"] == [
        ("backfill", "backfill__2026-10-14"),
        ("backfill", "backfill__2026-10-13"),
        ("backfill", "backfill__2026-10-12"),
    ]


def test_run_chart_has_a_point_per_module_run_from_the_first_day(warehouse: Engine) -> None:
    with warehouse.begin() as conn:
        _sync_run(conn, "r1", "Accounts", T0, extracted=40, inserted=40)
        _sync_run(conn, "r1", "Contacts", T0, extracted=120, inserted=100, rejected=3)
        _sync_run(conn, "r2", "Accounts", T0 + timedelta(hours=1), "failed", extracted=5)
    points = _dashboard(warehouse).run_points
    assert [(p.run_id, p.module, p.status, p.extracted) for p in points] == [
        ("r1", "Accounts", "success", 40),
        ("r1", "Contacts", "success", 120),
        ("r2", "Accounts", "failed", 5),
    ]
    assert points[1].written == 100 and points[1].rejected == 3


def test_customers_and_contact_persons_are_counted_apart(warehouse: Engine) -> None:
    with warehouse.begin() as conn:
        acme = _customer(conn, "Acme", crm="a1")
        _customer(conn, "Native", source="books")
        conn.execute(
            text(
                "INSERT INTO books.customers (source, crm_contact_id, customer_sub_type,"
                " contact_name, status, created_at, updated_at)"
                " VALUES ('crm', 'c9', 'individual', 'Ann Doe', 'active', :t, :t)"
            ),
            {"t": _ts(T0)},
        )
        for cid in ("c1", "c2"):
            conn.execute(
                text(
                    "INSERT INTO books.contact_persons (customer_id, crm_contact_id, first_name,"
                    " created_at, updated_at) VALUES (:c, :id, 'Bo', :t, :t)"
                ),
                {"c": acme, "id": cid, "t": _ts(T0)},
            )
    d = _dashboard(warehouse)
    assert d.customers_total == 3
    assert d.people == {"from_accounts": 1, "from_contacts": 1, "contact_persons": 2}


def test_freshness_warns_about_a_stale_run_log(warehouse: Engine) -> None:
    now = T0 + timedelta(days=3)
    with warehouse.begin() as conn:
        _sync_run(conn, "old", "Accounts", now - timedelta(hours=30))
        _sync_run(conn, "newer-failed", "Accounts", now - timedelta(hours=2), "failed")
        _sync_run(conn, "fresh", "Contacts", now - timedelta(hours=3))
    d = _dashboard(warehouse)
    ages = {f.module: f for f in freshness(d.last_successes, now=now, threshold=DEFAULT_THRESHOLD)}
    assert (ages["Accounts"].stale, ages["Accounts"].age_text, ages["Accounts"].run_id) == (
        True,
        "30 h ago",
        "old",
    )
    assert (ages["Contacts"].stale, ages["Contacts"].age_text) == (False, "3 h ago")
    relaxed = freshness(d.last_successes, now=now, threshold=threshold_hours("36"))
    assert not any(f.stale for f in relaxed)
    empty = freshness((), now=now, threshold=DEFAULT_THRESHOLD)
    assert [(f.module, f.stale, f.age_text) for f in empty] == [
        ("Accounts", True, "never synced successfully"),
        ("Contacts", True, "never synced successfully"),
    ]


def test_a_wrong_freshness_variable_says_how_to_fix_it() -> None:
    assert threshold_hours(None) == DEFAULT_THRESHOLD == threshold_hours(" ")
    assert threshold_hours("12.5") == timedelta(hours=12.5)
    for bad in ("0", "-3", "a day"):
        with pytest.raises(BadThreshold, match="books_freshness_threshold_hours"):
            threshold_hours(bad)


def test_a_row_becomes_a_record_by_the_types_its_fields_declare() -> None:
    from crm_books_ui.queries import LastSuccess, PendingDeal, pending_deal
    from crm_books_ui.rows import from_row

    row = {
        "crm_deal_id": 42, "deal_name": None, "amount": 1250.5, "stage": "Closed Won",
        "crm_account_id": "A1", "crm_contact_id": None, "pending_reason": "no customer",
        "updated_at": "2026-11-01 10:00:00.000000+00:00",
    }  # fmt: skip
    assert pending_deal(row) == PendingDeal(
        crm_deal_id="42",
        deal_name=None,
        amount=Decimal("1250.50"),
        stage="Closed Won",
        crm_account_id="A1",
        crm_contact_id=None,
        pending_reason="no customer",
        updated_at=T0,
    )
    with pytest.raises(KeyError, match="deal_name"):
        pending_deal({k: v for k, v in row.items() if k != "deal_name"})

    @dataclass(frozen=True)
    class Unconvertible:
        names: tuple[str, ...]

    with pytest.raises(TypeError, match=r"Unconvertible\.names: no conversion"):
        from_row(Unconvertible, {"names": ("a",)})
    assert from_row(LastSuccess, {"module": "Accounts", "finished_at": None}, run_id=None) == (
        LastSuccess("Accounts", None, None)
    )
