"""Shared fixtures: an offline Airflow home, the throwaway PostgreSQL cluster, warehouses on both backends."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="crm-books-airflow-"))

# Airflow reads its configuration at import time, so the test environment is set before any import.
os.environ.setdefault("AIRFLOW_HOME", str(_AIRFLOW_HOME))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
os.environ.setdefault(
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("CRM_BOOKS_DATA_DIR", str(_AIRFLOW_HOME / "data"))
# Dev connections, so DAGs parse offline (overridden per test where a live sandbox is used).
os.environ.setdefault(
    "AIRFLOW_CONN_ZOHO_CRM",
    '{"conn_type": "http", "host": "http://127.0.0.1:1", "login": "dev-client", "password": "dev-secret",'
    ' "extra": {"refresh_token": "dev-refresh", "accounts_url": "http://127.0.0.1:1"}}',
)
os.environ.setdefault(
    "AIRFLOW_CONN_BOOKS_WAREHOUSE", f"sqlite:///{_AIRFLOW_HOME / 'data' / 'books.db'}"
)

from devtools.pg_throwaway import PgCluster, start_cluster  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster | str]:
    """The throwaway cluster (or CRM_BOOKS_TEST_PG_URI's server). In CI its absence is a failure."""
    external = os.environ.get("CRM_BOOKS_TEST_PG_URI")
    if external:
        yield external
        return
    try:
        cluster = start_cluster()
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but could not start: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


def _new_pg_database(pg: PgCluster | str) -> str:
    import psycopg
    from psycopg import sql

    name = f"books_{uuid.uuid4().hex[:12]}"
    admin = pg if isinstance(pg, str) else pg.admin_uri
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    if isinstance(pg, str):
        return admin.rsplit("/", 1)[0] + f"/{name}"
    return pg.uri(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty warehouse on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'books.db'}"
    return _new_pg_database(request.getfixturevalue("pg_cluster"))


@pytest.fixture
def warehouse(warehouse_uri: str):  # type: ignore[no-untyped-def]
    """An engine on a migrated, empty warehouse."""
    from crm_books.warehouse.engine import create_warehouse_engine
    from crm_books.warehouse.migrations import migrate

    engine = create_warehouse_engine(warehouse_uri)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engines(warehouse_uri: str, request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Engines on two fresh, empty warehouses of the same backend: the one under test, and a
    second one (a reference run, or the same data read another way)."""
    from crm_books.warehouse.engine import create_warehouse_engine

    if warehouse_uri.startswith("sqlite"):
        second = f"sqlite:///{tmp_path / 'reference.db'}"
    else:
        second = _new_pg_database(request.getfixturevalue("pg_cluster"))
    pair = (create_warehouse_engine(warehouse_uri), create_warehouse_engine(second))
    yield pair
    for engine in pair:
        engine.dispose()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's own metadata database (SQLite), migrated once per test session."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
        timeout=300,
    )
    return _AIRFLOW_HOME


@pytest.fixture
def sandbox() -> Iterator[object]:
    """An empty sandbox CRM on loopback; tests put exactly the records they need into it."""
    from datetime import UTC, datetime

    from zoho_sandbox import SandboxConfig, SandboxServer

    config = SandboxConfig(
        seed=7, accounts=0, contacts=0, deals=0, clock_start=datetime(2026, 11, 1, tzinfo=UTC)
    )
    with SandboxServer(config) as server:
        yield server


@pytest.fixture
def airflow_env(
    airflow_db: Path, sandbox: object, warehouse_uri: str, monkeypatch: pytest.MonkeyPatch
) -> object:
    """Point the zoho_crm and books_warehouse connections at this test's sandbox and warehouse."""
    import json

    sb = sandbox
    monkeypatch.setenv(
        "AIRFLOW_CONN_ZOHO_CRM",
        json.dumps(
            {
                "conn_type": "http",
                "host": sb.base_url,  # type: ignore[attr-defined]
                "login": sb.client_id,  # type: ignore[attr-defined]
                "password": sb.client_secret,  # type: ignore[attr-defined]
                "extra": {
                    "refresh_token": sb.refresh_token,  # type: ignore[attr-defined]
                    "accounts_url": sb.accounts_url,  # type: ignore[attr-defined]
                },
            }
        ),
    )
    monkeypatch.setenv("AIRFLOW_CONN_BOOKS_WAREHOUSE", warehouse_uri)
    return sb
