"""Issue 11, defect 8: a books_warehouse that cannot be reached or logged into says which server
and the likely fix (never the password); PostgreSQL ones stay retryable, SQLite ones fail fast."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from crm_books.warehouse.engine import (
    WarehouseConfigError,
    WarehouseConnectionError,
    create_warehouse_engine,
)
from crm_books.warehouse.migrations import migrate
from crm_books_ui.queries import load_dashboard
from devtools.pg_throwaway import PgCluster, free_port

PASSWORD = "s3cret-Pw"


def connect_error(uri: str) -> WarehouseConnectionError:
    """What the first use of the warehouse (the schema migration) raises."""
    engine = create_warehouse_engine(uri)
    try:
        with pytest.raises(WarehouseConnectionError) as caught:
            migrate(engine)
    finally:
        engine.dispose()
    # Still an OperationalError: a server that is down may come back, so it stays retryable.
    assert isinstance(caught.value, OperationalError)
    assert PASSWORD not in str(caught.value)
    return caught.value


@pytest.fixture
def cluster(pg_cluster: PgCluster | str) -> PgCluster:
    if isinstance(pg_cluster, str):
        pytest.skip("needs the throwaway cluster (its pg_hba.conf is changed)")
    return pg_cluster


@pytest.mark.postgres
def test_an_unused_port_asks_whether_postgresql_runs_there() -> None:
    port = free_port()
    error = connect_error(f"postgresql://books:{PASSWORD}@127.0.0.1:{port}/books")
    assert str(error).startswith(
        f"cannot connect to the books_warehouse connection (PostgreSQL 127.0.0.1:{port}, "
        "database books, user books)"
    )
    assert "Connection refused" in str(error)
    assert f"Likely fix: is PostgreSQL running on 127.0.0.1:{port}" in str(error)


@pytest.mark.postgres
def test_an_unknown_database_says_create_it_or_fix_the_schema_field(cluster: PgCluster) -> None:
    error = connect_error(
        f"postgresql://postgres:{PASSWORD}@127.0.0.1:{cluster.port}/no_such_books"
    )
    assert f"PostgreSQL 127.0.0.1:{cluster.port}, database no_such_books" in str(error)
    assert 'database "no_such_books" does not exist' in str(error)
    assert str(error).endswith(
        f"Likely fix: create the database no_such_books on 127.0.0.1:{cluster.port}, "
        "or fix the schema field of books_warehouse"
    )


@pytest.mark.postgres
def test_an_unknown_role_says_create_it_or_check_the_login(cluster: PgCluster) -> None:
    error = connect_error(f"postgresql://ghost:{PASSWORD}@127.0.0.1:{cluster.port}/postgres")
    assert 'role "ghost" does not exist' in str(error)
    assert "Likely fix: create the role ghost" in str(error)
    assert "check the login/password of books_warehouse" in str(error)


@pytest.fixture
def password_role(cluster: PgCluster) -> Iterator[str]:
    """A role that must give its password (the cluster trusts everyone else)."""
    import psycopg
    from psycopg import sql

    role = f"pw_{uuid.uuid4().hex[:8]}"
    hba = cluster.root / "data" / "pg_hba.conf"
    rules = hba.read_text()
    with psycopg.connect(cluster.admin_uri, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'the-right-one'").format(sql.Identifier(role))
        )
        hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n{rules}")
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield role
    finally:
        hba.write_text(rules)
        with psycopg.connect(cluster.admin_uri, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.postgres
def test_a_wrong_password_says_check_the_login_and_password(
    cluster: PgCluster, password_role: str
) -> None:
    error = connect_error(
        f"postgresql://{password_role}:{PASSWORD}@127.0.0.1:{cluster.port}/postgres"
    )
    assert f'password authentication failed for user "{password_role}"' in str(error)
    assert str(error).endswith(
        f"Likely fix: check the login ({password_role}) and password of books_warehouse"
    )


@pytest.mark.postgres
def test_the_ui_page_names_the_same_server_and_fix() -> None:
    port = free_port()
    engine = create_warehouse_engine(
        f"postgresql://books:{PASSWORD}@127.0.0.1:{port}/books", read_only=True
    )
    with pytest.raises(
        WarehouseConnectionError, match=f"is PostgreSQL running on 127.0.0.1:{port}"
    ):
        load_dashboard(engine)


def test_a_sqlite_file_that_cannot_be_made_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(
        WarehouseConfigError,
        match=r"SQLite file .*not-a-directory/books\.db of the books_warehouse",
    ):
        create_warehouse_engine(f"sqlite:///{blocker / 'books.db'}")
    # The UI only reads, so it opens without creating: a missing directory is refused the same way.
    engine = create_warehouse_engine(
        f"sqlite:///{tmp_path / 'missing' / 'books.db'}", read_only=True
    )
    with pytest.raises(WarehouseConfigError, match="Likely fix: create its directory"):
        load_dashboard(engine)


def test_through_the_task_a_bad_sqlite_path_fails_at_once_and_a_down_server_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from crm_books.airflow_tasks import sync as sync_tasks

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("AIRFLOW_CONN_BOOKS_WAREHOUSE", f"sqlite:///{blocker / 'books.db'}")
    with pytest.raises(AirflowFailException, match="books_warehouse"):
        sync_tasks.ensure_schema()
    monkeypatch.setenv(
        "AIRFLOW_CONN_BOOKS_WAREHOUSE", f"postgresql://books@127.0.0.1:{free_port()}/books"
    )
    with pytest.raises(WarehouseConnectionError):  # not AirflowFailException: it is retried
        sync_tasks.ensure_schema()
