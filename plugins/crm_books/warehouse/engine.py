"""Engines for the Books warehouse (PostgreSQL or SQLite) and its connection."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    NullPool,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.exc import OperationalError

from crm_books import config
from crm_books.warehouse.sql_files import run_sql

log = logging.getLogger(__name__)


# How long a SQLite writer waits for another's write lock before "database is locked": longer than
# any one load, since a concurrent run's step queues behind the whole transaction (a backfill runs
# several runs at once).
SQLITE_BUSY_TIMEOUT_MS = 30 * 60 * 1000


# A reader (the UI page) waits this long when SQLite says the file is busy (rare under WAL), so a
# page load fails with an error rather than hangs.
SQLITE_READ_BUSY_TIMEOUT_MS = 5000


# A step that waited this long for the write lock says so in its log (SQLite cannot tell otherwise).
LOCK_WAIT_LOGGED_S = 0.5

# psycopg 3 on every PostgreSQL warehouse, whatever the connection's extra asks for: the bulk
# loads use its COPY. A small pool per task process; pre-ping drops connections the server closed.
POSTGRES_DRIVER = "postgresql+psycopg"
POSTGRES_ENGINE_KWARGS: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 2, "max_overflow": 2}


class WarehouseConfigError(ValueError):
    """The warehouse URI cannot be used."""


class WarehouseConnectionError(OperationalError):
    """The warehouse server refused or could not be reached; ``str()`` names it and the likely fix.

    Still an OperationalError: a server that is down may come back, so callers and retries treat
    it as before; only the message changes.
    """

    def __init__(self, message: str, orig: BaseException | None = None) -> None:
        super().__init__(None, None, orig if orig is not None else Exception(message))
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:
        return type(self), (self.message,)


def normalize_uri(uri: str | URL) -> URL:
    """Turn a PostgreSQL or SQLite URI (as Airflow connections write them) into a SQLAlchemy URL."""
    if isinstance(uri, str) and uri.startswith("postgres://"):
        uri = "postgresql://" + uri[len("postgres://") :]
    try:
        url = make_url(uri)
    except Exception as exc:
        raise WarehouseConfigError(
            f"books_warehouse is not a valid database URI ({exc}); use postgresql://user:pass@host/db "
            "or sqlite:////absolute/path/books.db"
        ) from exc
    backend = url.get_backend_name()
    if backend == "postgresql":
        return url.set(drivername=POSTGRES_DRIVER)
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise WarehouseConfigError(
                "books_warehouse must name a SQLite file (sqlite:////path/books.db); "
                "an in-memory warehouse would vanish after each task"
            )
        return url
    raise WarehouseConfigError(
        f"books_warehouse uses {backend!r}; only PostgreSQL and SQLite warehouses are supported"
    )


def connection_failure(
    url: URL, error: BaseException, conn_id: str = config.WAREHOUSE_CONN_ID
) -> str:
    """What failed when connecting to the warehouse, which server, and the likely fix (no password)."""
    detail = " ".join(str(error).split())
    if url.get_backend_name() == "sqlite":
        return (
            f"cannot open the SQLite file {url.database} of the {conn_id} connection: {detail}. "
            f"Likely fix: create its directory, or point {conn_id} at a file the worker may write"
        )
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    database, user = url.database or "(none)", url.username or "(none)"
    if 'database "' in detail and "does not exist" in detail:
        fix = f"create the database {database} on {where}, or fix the schema field of {conn_id}"
    elif 'role "' in detail and "does not exist" in detail:
        fix = f"create the role {user} on {where}, or check the login/password of {conn_id}"
    elif "password" in detail or "authentication" in detail:
        fix = f"check the login ({user}) and password of {conn_id}"
    else:
        fix = (
            f"is PostgreSQL running on {where} and reachable from this worker? "
            f"Otherwise fix the host and port of {conn_id}"
        )
    return (
        f"cannot connect to the {conn_id} connection (PostgreSQL {where}, database {database}, "
        f"user {user}): {detail}. Likely fix: {fix}"
    )


def name_connection_errors(
    engine: Engine, url: URL, conn_id: str = config.WAREHOUSE_CONN_ID
) -> Engine:
    """Make a failed connect to ``url`` say which connection and server it was and what to fix.

    PostgreSQL failures stay retryable (WarehouseConnectionError); a SQLite file that cannot be
    opened is a configuration error (WarehouseConfigError), which no retry cures.
    """

    @event.listens_for(engine, "handle_error")
    def _name(ctx: ExceptionContext) -> None:
        # Only failures to connect: errors of a statement on a live connection keep their own.
        if ctx.connection is not None or ctx.is_pre_ping:
            return
        error = ctx.original_exception
        sqlite = url.get_backend_name() == "sqlite"
        if sqlite and "unable to open database" not in str(error):
            return  # e.g. "database is locked": a retry cures it
        message = connection_failure(url, error, conn_id)
        log.error("%s", message)
        if sqlite:
            raise WarehouseConfigError(message) from error
        raise WarehouseConnectionError(message, error) from error

    return engine


def create_warehouse_engine(
    uri: str | URL, *, conn_id: str = config.WAREHOUSE_CONN_ID, read_only: bool = False
) -> Engine:
    """Engine whose connections see the Books tables as schema ``books`` on either backend.

    ``read_only`` (the UI page) neither creates the SQLite file's directory nor takes its write
    lock, so a read never waits behind a running sync.
    """
    url = normalize_uri(uri)
    if url.get_backend_name() == "postgresql":
        engine = create_engine(url, **POSTGRES_ENGINE_KWARGS)
        return name_connection_errors(engine, url, conn_id)
    db_file = Path(str(url.database))
    if not read_only:
        try:
            db_file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseConfigError(connection_failure(url, exc, conn_id)) from exc
    # The warehouse file is attached as "books" so the same SQL runs on both backends.
    busy_timeout_ms = SQLITE_READ_BUSY_TIMEOUT_MS if read_only else SQLITE_BUSY_TIMEOUT_MS
    # sqlite3's timeout is the connection's busy timeout: a writer waits for the lock this long.
    sqlite = create_engine(
        "sqlite://", poolclass=NullPool, connect_args={"timeout": busy_timeout_ms / 1000}
    )
    engine = name_connection_errors(sqlite, url, conn_id)

    @event.listens_for(engine, "connect")
    def _attach(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN handling below own transactions
        cur = dbapi_conn.cursor()
        cur.execute("ATTACH DATABASE ? AS books", (str(db_file),))
        if not read_only:
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA books.journal_mode = WAL")
            cur.execute("PRAGMA books.synchronous = NORMAL")
        cur.close()

    if read_only:
        return engine  # autocommit reads: each SELECT sees a consistent WAL snapshot, no lock

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so concurrent tasks queue instead of deadlocking.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as conn:
        yield conn


@contextmanager
def locked_transaction(engine: Engine, step: str) -> Iterator[Connection]:
    """A transaction holding the warehouse write lock, so steps that change shared warehouse
    state (loads, deletions, duplicate flags, merges, reconciles) run one at a time, even when
    Airflow runs several runs at once (``airflow backfill create`` ignores max_active_runs).

    PostgreSQL: a transaction-level advisory lock (include/sql/warehouse/lock_warehouse); SQLite:
    the database's own write lock, which the engine's BEGIN IMMEDIATE takes. Both end with the
    transaction, however it ends.
    """
    started = time.monotonic()
    with engine.begin() as conn:
        free = run_sql(conn, "warehouse/try_lock_warehouse")
        contended = free is not None and not free.scalar()
        if contended:
            log.info("%s: waiting for the warehouse lock (another run is writing)", step)
            run_sql(conn, "warehouse/lock_warehouse")
        waited = time.monotonic() - started
        if contended or waited >= LOCK_WAIT_LOGGED_S:
            log.info("%s: waited %.1f s for the warehouse lock", step, waited)
        yield conn


def warehouse_url(conn_id: str = config.WAREHOUSE_CONN_ID) -> URL:
    """The warehouse URL of an Airflow connection: PostgreSQL through the postgres provider's hook
    (so its extras, e.g. ``sqlalchemy_query``, apply), SQLite from the file it names."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        path = conn.host or conn.schema
        if not path:
            raise WarehouseConfigError(
                f"connection {conn_id} is SQLite but names no file; use sqlite:////absolute/path/books.db"
            )
        return normalize_uri(f"sqlite:///{path}")
    if conn_type in {"postgres", "postgresql"}:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        hook = PostgresHook(postgres_conn_id=conn_id, sqlalchemy_scheme=POSTGRES_DRIVER)
        return normalize_uri(hook.sqlalchemy_url)
    raise WarehouseConfigError(
        f"connection {conn_id} has type {conn_type!r}; the Books warehouse must be postgres or sqlite"
    )


def warehouse_uri(conn_id: str = config.WAREHOUSE_CONN_ID) -> str:
    """The warehouse URI (with its password) of an Airflow connection, PostgreSQL or SQLite."""
    return warehouse_url(conn_id).render_as_string(hide_password=False)


def warehouse_engine(conn_id: str = config.WAREHOUSE_CONN_ID, *, read_only: bool = False) -> Engine:
    """The engine of an Airflow connection; connect errors name the connection and the fix."""
    return create_warehouse_engine(warehouse_url(conn_id), conn_id=conn_id, read_only=read_only)
