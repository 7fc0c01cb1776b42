"""The Books schema migrates idempotently and its constraints protect the data, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from crm_books.warehouse.engine import create_warehouse_engine
from crm_books.warehouse.migrations import migrate
from crm_books.warehouse.timestamps import utcnow

CUSTOMER = (
    "INSERT INTO books.customers (source, crm_account_id, customer_sub_type, contact_name, status,"
    " created_at, updated_at) VALUES (:source, :crm_id, :sub, :name, :status, :now, :now)"
)


def _customer(conn, crm_id: str | None, **over: str) -> None:  # type: ignore[no-untyped-def]
    params = {
        "source": "crm",
        "crm_id": crm_id,
        "sub": "business",
        "name": "Acme",
        "status": "active",
        "now": utcnow(),
    }
    params.update(over)
    conn.execute(text(CUSTOMER), params)


def test_migrate_is_idempotent_and_recorded(warehouse_uri: str) -> None:
    engine = create_warehouse_engine(warehouse_uri)
    first = migrate(engine)
    second = migrate(engine)
    assert first and first[0].startswith("0001_")
    assert second == []
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version FROM books.schema_migrations")).scalars().all()
    assert "0001" in versions


def test_crm_account_id_is_unique(warehouse: Engine) -> None:
    with warehouse.begin() as conn:
        _customer(conn, "A1")
    with pytest.raises(IntegrityError), warehouse.begin() as conn:
        _customer(conn, "A1")


def test_status_values_are_checked(warehouse: Engine) -> None:
    with pytest.raises(IntegrityError), warehouse.begin() as conn:
        _customer(conn, "A2", status="archived")


def test_books_native_customer_cannot_carry_crm_ids(warehouse: Engine) -> None:
    with pytest.raises(IntegrityError), warehouse.begin() as conn:
        _customer(conn, "A3", source="books")


def test_contact_person_needs_existing_customer(warehouse: Engine) -> None:
    with pytest.raises(IntegrityError), warehouse.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO books.contact_persons (customer_id, crm_contact_id, created_at, updated_at)"
                " VALUES (424242, 'C1', :now, :now)"
            ),
            {"now": utcnow()},
        )


def test_failed_transaction_leaves_nothing(warehouse: Engine) -> None:
    with pytest.raises(IntegrityError), warehouse.begin() as conn:
        _customer(conn, "A4")
        _customer(conn, "A4")
    with warehouse.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM books.customers")).scalar() == 0
