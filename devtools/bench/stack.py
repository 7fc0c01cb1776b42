"""What a benchmark runs against: the warehouses (a throwaway PostgreSQL cluster or given URIs) and
the sandbox CRM's client and admin API."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine

log = logging.getLogger("devtools.bench")

SQL_DIR = Path(__file__).with_name("sql")


@cache
def bench_sql(name: str) -> str:
    """The text of ``devtools/bench/sql/<name>.sql`` (the benchmark's own statements)."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def sandbox_admin(base: str, path: str, payload: Any) -> Any:
    """POST to the sandbox's admin API (``/__sandbox/...``)."""
    resp = requests.post(f"{base}/__sandbox/{path}", json=payload, timeout=300)
    resp.raise_for_status()
    return resp.json()


class PlainCipher:
    """The token store's cipher for the sandbox's throwaway tokens: stores them as they are
    (Airflow's Fernet does the same when no key is set), so the benchmark needs no Airflow."""

    is_encrypted = False

    def encrypt(self, msg: bytes) -> bytes:
        return msg

    def decrypt(self, msg: bytes | str) -> bytes:
        return msg.encode() if isinstance(msg, str) else msg


@dataclass(frozen=True)
class ClientSpec:
    """How the benchmark's CRM clients are built (picklable, for the extract processes).

    :param base_url: the sandbox CRM.
    :param warehouse_uri: the warehouse holding the shared token (books.crm_access_tokens).
    :param max_concurrency: the client's calls in flight (the `zoho_crm` extra's).
    """

    base_url: str
    warehouse_uri: str
    max_concurrency: int


def crm_client(spec: ClientSpec, engine: Engine) -> Any:
    """A CRM client for the sandbox (its fixed OAuth client, valid on every profile), as the
    Airflow hook builds one: its access token shared through the warehouse's token store
    (migrated by ensure_schema) and its calls in flight capped at ``spec.max_concurrency``."""
    from crm_books.zoho.client import ZohoCrmClient
    from crm_books.zoho.token_store import WarehouseTokenStore
    from zoho_sandbox.benchmark import sandbox_credentials

    credentials = sandbox_credentials(spec.base_url)
    reader = _reader(spec.warehouse_uri) if engine.dialect.name == "sqlite" else engine
    store = WarehouseTokenStore(engine, credentials, cipher=PlainCipher(), reader=reader)
    return ZohoCrmClient(credentials, token_store=store, max_concurrency=spec.max_concurrency)


@cache
def _reader(uri: str) -> Engine:
    """On SQLite a read-only engine for the token's unlocked read (as the hook's), so reading
    the token never queues behind another process's write lock."""
    from crm_books.warehouse.engine import create_warehouse_engine

    return create_warehouse_engine(uri, read_only=True)


def _create_pg_database(server_uri: str, name: str) -> str:
    """Create (after dropping) a database next to ``server_uri``'s; returns its URI."""
    import psycopg
    from psycopg import sql as pgsql
    from sqlalchemy import make_url

    url = make_url(server_uri.replace("postgres://", "postgresql://", 1))
    plain = url.set(drivername="postgresql")
    with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {}").format(pgsql.Identifier(name)))
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    return plain.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(server_uri: str, name: str) -> None:
    import psycopg
    from psycopg import sql as pgsql
    from sqlalchemy import make_url

    url = make_url(server_uri.replace("postgres://", "postgresql://", 1)).set(
        drivername="postgresql"
    )
    try:
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(
                pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
            )
    except psycopg.Error as exc:
        log.warning("could not drop the baseline database %s: %s", name, exc)


@contextmanager
def warehouses(uri: str | None) -> Iterator[tuple[str, str, str]]:
    """(warehouse URI, baseline warehouse URI, backend description) for one benchmark.

    No URI: a throwaway PostgreSQL cluster with two fresh databases, stopped afterwards. A
    PostgreSQL URI: that database, plus a scratch baseline database on the same server (dropped
    afterwards). A SQLite URI: that file, plus a ``.baseline.db`` file next to it.
    """
    if uri is None:
        from devtools.pg_throwaway import start_cluster

        cluster = start_cluster()
        try:
            main = _create_pg_database(cluster.admin_uri, "books_bench")
            baseline = _create_pg_database(cluster.admin_uri, "books_bench_baseline")
            yield main, baseline, f"PostgreSQL (throwaway cluster, {cluster.bindir})"
        finally:
            cluster.stop()
        return
    if uri.startswith("sqlite:"):
        path = Path(uri.split(":///", 1)[1])
        baseline_path = path.with_suffix(".baseline.db")
        for p in (baseline_path, Path(f"{baseline_path}-wal"), Path(f"{baseline_path}-shm")):
            p.unlink(missing_ok=True)
        try:
            yield uri, f"sqlite:///{baseline_path}", "SQLite"
        finally:
            baseline_path.unlink(missing_ok=True)
        return
    name = f"books_bench_baseline_{os.getpid()}"
    baseline = _create_pg_database(uri, name)
    try:
        yield uri, baseline, "PostgreSQL"
    finally:
        _drop_pg_database(uri, name)
