"""A first import's foreign keys, checked once after the write (issue 16), on both backends.

On PostgreSQL a first import of many contact persons or duplicate candidates drops its foreign
key to books.customers and adds it back in the same transaction, which checks every row in one
join instead of a trigger call per row. These tests lower the threshold to a few rows and check
what a user would see: the same warehouse as the per-row path, the same constraint afterwards,
and a row that breaks the key failing the whole write.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from crm_books.customers.duplicates_flag import flag_duplicates
from crm_books.customers.plan import SyncRun
from crm_books.warehouse import bulk
from crm_books.warehouse.bulk import CustomerKey, foreign_key_checked_after
from crm_books.warehouse.migrations import migrate
from tests.integration.test_load_contact_persons import (
    T1,
    held,
    load,
    persons,
    rows,
    stage_account,
    stage_person,
)

PERSON_KEY = CustomerKey("contact_persons", "contact_persons_customer_id_fkey")
KEYS_SQL = (
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated"
    " FROM pg_constraint WHERE contype = 'f' AND confrelid = 'books.customers'::regclass"
    " ORDER BY 1, 2"
)


def first_import(engine: Engine) -> dict[str, int]:
    """Accounts with contacts, one contact whose account never came, and duplicate companies."""
    for account, name in [("A-1", "Acme"), ("A-2", "Acme Corp"), ("A-3", "Globex")]:
        stage_account(engine, "r1", account, name)
    for contact, account, first in [
        ("C-3", "A-1", "Cy"), ("C-1", "A-1", "Ann"), ("C-2", "A-2", "Bo"), ("C-4", "A-3", "Di"),
        ("C-9", "A-404", "Nia"),
    ]:  # fmt: skip
        stage_person(engine, "r1", contact, account, first, T1)
    load(engine, "r1")
    return flag_duplicates(engine, SyncRun(run_id="r1"))


def warehouse_view(engine: Engine) -> dict[str, Any]:
    return {
        "persons": persons(engine),
        "held": held(engine),
        "candidates": rows(
            engine,
            "SELECT d.group_key, c.crm_account_id, d.match_reason, d.status, d.first_flagged_run_id,"
            " d.closed_at FROM books.duplicate_candidates d"
            " JOIN books.customers c ON c.customer_id = d.customer_id ORDER BY 1, 2",
        ),
    }


def test_a_first_import_checked_once_loads_what_the_per_row_check_loads(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked_once, per_row = engines
    for engine in engines:
        migrate(engine)
    flagged_per_row = first_import(per_row)
    monkeypatch.setattr(bulk, "BULK_CHECK_ROWS", 2)
    keys_before = rows(checked_once, KEYS_SQL) if checked_once.dialect.name == "postgresql" else []
    assert first_import(checked_once) == flagged_per_row  # the run log's counts too
    view = warehouse_view(checked_once)
    assert view == warehouse_view(per_row)
    assert len(view["persons"]) == 4 and len(view["candidates"]) == 2
    if checked_once.dialect.name == "postgresql":
        # The constraints are back as the migrations made them, and validated.
        assert rows(checked_once, KEYS_SQL) == keys_before
        assert all(validated for *_, validated in keys_before)


# SQLite keeps its per-row check: PostgreSQL only.
@pytest.mark.parametrize(
    "warehouse_uri", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_row_that_breaks_the_key_fails_the_whole_first_import(
    warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "BULK_CHECK_ROWS", 2)
    stage_account(warehouse, "r1", "A-1", "Acme")
    load(warehouse, "r1")  # a customer to point at, so only the bad row breaks the key
    customer = rows(warehouse, "SELECT customer_id FROM books.customers")[0][0]
    insert = text(
        "INSERT INTO books.contact_persons (customer_id, crm_contact_id, first_name,"
        " is_primary_contact, created_at, updated_at)"
        " VALUES (:customer, :contact, 'X', FALSE, :now, :now)"
    )
    violation = pytest.raises(IntegrityError, match="contact_persons_customer_id_fkey")
    with violation, warehouse.begin() as conn, foreign_key_checked_after(conn, PERSON_KEY, rows=2):
        conn.execute(insert, {"customer": customer, "contact": "C-1", "now": T1})
        conn.execute(insert, {"customer": customer + 999, "contact": "C-2", "now": T1})
    # Nothing of the write stayed, and the constraint still guards the table.
    assert rows(warehouse, "SELECT COUNT(*) FROM books.contact_persons") == [(0,)]
    with (
        pytest.raises(IntegrityError, match="contact_persons_customer_id_fkey"),
        warehouse.begin() as conn,
    ):
        conn.execute(insert, {"customer": customer + 999, "contact": "C-2", "now": T1})
