"""The cap on Zoho calls in flight, shared by every task, sensor poke and worker of one org's app.

Zoho refuses calls beyond an org's concurrency cap (Free 5 ... Ultimate 25 in flight) with 429.
A limiter holds one of ``max_concurrency`` slots around each API call, so the two extract tasks,
their read threads and the deal sensor share one budget whatever process they run in:

- on a PostgreSQL warehouse, across hosts: a slot is a session-level advisory lock
  ``(key, slot)`` taken on one of the limiter's own connections to the warehouse
  (include/sql/zoho/try_call_slot.sql), keyed by the org and app (API base URL and client id).
  A killed process's session ends and its locks with it, so it never leaks a slot.
- on a SQLite warehouse (one host by definition), per host: a slot is an exclusive ``flock`` on
  one of ``max_concurrency`` small files in a directory named after the org and app. The kernel
  drops a dead process's locks.

In both, a process's threads first queue on a local semaphore of ``max_concurrency``, so only
as many of them as there are slots ever ask for one.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from sqlalchemy import URL, Connection, Engine, NullPool, create_engine, text

from crm_books.warehouse.engine import name_connection_errors
from crm_books.warehouse.sql_files import sql

log = logging.getLogger(__name__)

# A default safe for the smallest paid edition (Standard: 10 in flight, shared with other apps).
DEFAULT_MAX_CONCURRENCY = 4
# How long a caller first waits before trying the slots again when all are held elsewhere; the
# wait doubles up to MAX_POLL_SECONDS (plus jitter), so a long wait costs few queries.
POLL_SECONDS = 0.002
MAX_POLL_SECONDS = 0.02
# The limiter's connections to a PostgreSQL warehouse, as pg_stat_activity names them.
LIMITER_APPLICATION_NAME = "crm_books zoho call limiter"


class CallLimiter(Protocol):
    """At most ``max_concurrency`` calls in flight among everyone sharing the limiter."""

    max_concurrency: int

    def slot(self) -> AbstractContextManager[None]:
        """Hold one slot while the block runs (one API call)."""
        ...


def backoff(attempt: int) -> float:
    """Seconds to wait after ``attempt`` rounds found every slot held (short, growing, jittered)."""
    return min(POLL_SECONDS * 2**attempt, MAX_POLL_SECONDS) * (1 + random.random())


class FileLockLimiter:
    """Slots as ``flock``s on files in ``directory``: every process using it shares them.

    :param max_concurrency: slots (calls in flight) in all.
    :param directory: where the slot files are.
    """

    def __init__(self, max_concurrency: int, directory: Path) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._local = threading.BoundedSemaphore(max_concurrency)

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._local:
            fd = self._acquire()
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _acquire(self) -> int:
        order = list(range(self.max_concurrency))
        attempt = 0
        while True:
            random.shuffle(order)  # spread processes over the slots instead of all trying slot 0
            for index in order:
                fd = os.open(self.directory / f"slot-{index}", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                return fd
            time.sleep(backoff(attempt))
            attempt += 1


class AdvisoryLockLimiter:
    """Slots as PostgreSQL session-level advisory locks, shared by every host using the database.

    Each call in flight holds one of the limiter's connections (opened when first needed, at most
    ``max_concurrency``, kept for the process's life) and one lock ``(lock_key, slot)`` on it:
    one prepared query to take a slot, one to give it back, sent through the driver directly
    (about 60 µs for both on loopback).

    :param engine: an engine on the warehouse (PostgreSQL, psycopg); only its connections are
        used, in autocommit mode.
    :param key: names the org and app whose cap this is (see ``limiter_key``).
    :param max_concurrency: slots (calls in flight) in all, on every host.
    """

    def __init__(self, engine: Engine, key: str, max_concurrency: int) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.engine = engine
        self.lock_key = lock_key(key)
        self._local = threading.BoundedSemaphore(max_concurrency)
        self._idle: list[_Session] = []
        self._idle_lock = threading.Lock()
        # The statements as the driver takes them (its paramstyle), compiled once.
        self._take = str(text(sql("zoho/try_call_slot")).compile(dialect=engine.dialect))
        self._give = str(text(sql("zoho/release_call_slot")).compile(dialect=engine.dialect))
        self._errors: type[Exception] = engine.dialect.loaded_dbapi.Error

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._local:
            session, index = self._acquire()
            try:
                yield
            finally:
                self._release(session, index)

    def _acquire(self) -> tuple[_Session, int]:
        session = self._session()
        attempt = 0
        retried = False
        while True:
            try:
                index = session.query(
                    self._take,
                    {
                        "lock_key": self.lock_key,
                        "slots": self.max_concurrency,
                        "first_slot": random.randrange(self.max_concurrency),
                    },
                )
            except self._errors:
                session.close()
                if retried:  # a fresh connection failed too: the warehouse is unreachable
                    raise
                retried = True  # e.g. the server closed an idle connection: one fresh try
                session = self._session()
                continue
            if index is not None:
                return session, index
            time.sleep(backoff(attempt))
            attempt += 1

    def _release(self, session: _Session, index: int) -> None:
        try:
            session.query(self._give, {"lock_key": self.lock_key, "slot": index})
        except self._errors as exc:  # closing the session frees its lock all the same
            log.warning("Could not give back a Zoho call slot (%s); closing its connection", exc)
            session.close()
            return
        with self._idle_lock:
            self._idle.append(session)

    def _session(self) -> _Session:
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        return _Session(self.engine.connect())


class _Session:
    """One of the limiter's connections: the SQLAlchemy one (connect errors, invalidation) and
    its driver connection and cursor, used directly for the two small queries."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        driver = conn.connection.driver_connection
        if driver is None:  # only a closed connection has none
            raise RuntimeError("the limiter's warehouse connection is closed")
        driver.autocommit = True  # a session lock outlives transactions; hold none open
        self.cursor = driver.cursor()

    def query(self, statement: str, params: dict[str, int]) -> int | None:
        """The first column (an integer or boolean) of the statement's first row; None: no row."""
        self.cursor.execute(statement, params, prepare=True)
        row = self.cursor.fetchone()
        return None if row is None else int(row[0])

    def close(self) -> None:
        try:
            self.conn.invalidate()  # never back into a pool: its session (and locks) end
            self.conn.close()
        except Exception:  # already broken: nothing more to free
            log.debug("closing a broken limiter connection failed", exc_info=True)


def limiter_key(api_base_url: str, client_id: str) -> str:
    """Names one org's app (API base URL and OAuth client id): the scope of Zoho's cap."""
    return hashlib.sha256(f"{api_base_url.rstrip('/')}\0{client_id}".encode()).hexdigest()[:16]


def lock_key(key: str) -> int:
    """The advisory lock's first integer (a signed 32-bit value) for a limiter key."""
    digest = hashlib.sha256(f"crm_books.zoho_calls\0{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


_limiters: dict[tuple[object, ...], CallLimiter] = {}
_limiters_lock = threading.Lock()


def host_limiter(api_base_url: str, client_id: str, max_concurrency: int) -> CallLimiter:
    """The flock limiter of one org's app on this host, one object per process."""
    name = limiter_key(api_base_url, client_id)
    directory = Path(tempfile.gettempdir()) / "crm_books_zoho_slots" / name
    key = ("host", os.getpid(), directory, max_concurrency)
    with _limiters_lock:
        if key not in _limiters:
            _limiters[key] = FileLockLimiter(max_concurrency, directory)
        return _limiters[key]


def database_limiter(
    url: URL, api_base_url: str, client_id: str, max_concurrency: int
) -> CallLimiter:
    """The advisory-lock limiter of one org's app on the PostgreSQL database at ``url``, one
    object (and connection pool) per process; a forked child makes its own."""
    name = limiter_key(api_base_url, client_id)
    rendered = url.render_as_string(hide_password=False)
    key = ("database", os.getpid(), rendered, name, max_concurrency)
    with _limiters_lock:
        if key not in _limiters:
            # The limiter keeps its connections itself; named, so pg_stat_activity shows them.
            connect_args = {"application_name": LIMITER_APPLICATION_NAME}
            engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
            name_connection_errors(engine, url)  # a refused connect names the server and fix
            _limiters[key] = AdvisoryLockLimiter(engine, name, max_concurrency)
        return _limiters[key]
