"""A first import into a warehouse whose empty tables were analysed (PostgreSQL).

A DBA's ANALYZE, vacuumdb or a managed server's routine can analyse the empty Books tables before
the first sync. PostgreSQL then plans each write's "not there yet" check as a nested loop over a
scan of the very table the write fills, and each staged row rescans the rows inserted before it:
at 1M records the customers INSERT ran for more than 47 minutes. The load must finish as it does
on a warehouse nobody analysed; a statement timeout turns the slow plan into a failure here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from crm_books import config
from crm_books.customers.load import load_run
from crm_books.customers.plan import SyncRun
from crm_books.warehouse.engine import create_warehouse_engine
from crm_books.warehouse.migrations import migrate

ACCOUNTS = 50_000
# Far above what any statement of the load takes here (under 1 s), far below what the nested-loop
# plan takes (more than 20 s for the customers INSERT alone).
STATEMENT_TIMEOUT_MS = 10_000

pytestmark = pytest.mark.parametrize(
    "warehouse_uri", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def analysed_empty(warehouse_uri: str) -> Iterator[Engine]:
    """A migrated warehouse with its empty tables analysed, each statement capped in time."""
    setup = create_warehouse_engine(warehouse_uri)
    migrate(setup)
    with setup.begin() as conn:
        conn.execute(text("ANALYZE books.customers, books.contact_persons"))
        conn.execute(text("ANALYZE books.pending_contact_persons"))
    setup.dispose()
    capped = f"{warehouse_uri}?options=-c%20statement_timeout%3D{STATEMENT_TIMEOUT_MS}"
    engine = create_warehouse_engine(capped)
    yield engine
    engine.dispose()


def stage(engine: Engine, run_id: str) -> None:
    """ACCOUNTS accounts with two contacts each, plus as many contacts whose account never came."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO books.stg_customers (run_id, module, crm_account_id,"
                " customer_sub_type, contact_name, company_name, crm_modified_time)"
                " SELECT :run, 'Accounts', 'A-' || n, 'business', 'Co ' || n, 'Co ' || n,"
                " TIMESTAMPTZ '2026-11-01 10:00:00+00'"
                " FROM generate_series(1, :accounts) AS n"
            ),
            {"run": run_id, "accounts": ACCOUNTS},
        )
        conn.execute(
            text(
                "INSERT INTO books.stg_contact_persons (run_id, crm_contact_id, crm_account_id,"
                " first_name, last_name, crm_modified_time)"
                " SELECT :run, 'C-' || n, 'A-' || (n % (:accounts * 3 / 2)), 'Ann', 'Doe',"
                " TIMESTAMPTZ '2026-11-01 10:00:00+00'"
                " FROM generate_series(1, :accounts * 3) AS n"
            ),
            {"run": run_id, "accounts": ACCOUNTS},
        )


def test_a_first_import_after_analyse_loads_as_on_a_fresh_warehouse(
    analysed_empty: Engine,
) -> None:
    stage(analysed_empty, "r1")
    result = load_run(
        analysed_empty, SyncRun(run_id="r1", modules=(config.ACCOUNTS, config.CONTACTS))
    )
    assert result[config.ACCOUNTS]["inserted"] == ACCOUNTS
    contacts = result[config.CONTACTS]
    # Contacts of accounts 1..ACCOUNTS attach; those of the accounts that never came are held.
    attached = ACCOUNTS * 2
    assert contacts["contact_persons_inserted"] == attached
    assert contacts["held"] == ACCOUNTS * 3 - attached
    with analysed_empty.connect() as conn:
        primaries = conn.execute(
            text("SELECT COUNT(*) FROM books.contact_persons WHERE is_primary_contact")
        ).scalar()
    assert primaries == ACCOUNTS
