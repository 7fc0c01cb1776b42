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
as many of them as there are slots ever ask for one. With flocks they then take turns in the
order they came (one thread of a process polls the slots at a time), so a call waiting longer
is not overtaken by a newer one that happens to poll just as a slot frees. On PostgreSQL a finished call keeps its
lock a moment for the process's next call, so a busy process does not pay two round trips to
the database per call (see AdvisoryLockLimiter).
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
from collections import deque
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
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
# The flock slots cost no round trip to poll (a few system calls): polled more often, so a slot
# another process frees sits idle a few milliseconds at most.
FILE_MAX_POLL_SECONDS = 0.004
# A PostgreSQL slot stays with its process this long after a call, for the next call to take
# without a round trip to the database, and serves at most this many calls in a row.
LINGER_SECONDS = 0.02
MAX_REUSES = 32
# A limiter connection unused this long is closed (a long-lived process does not keep them).
IDLE_CLOSE_SECONDS = 10.0
# The limiter's connections to a PostgreSQL warehouse, as pg_stat_activity names them.
LIMITER_APPLICATION_NAME = "crm_books zoho call limiter"


class CallLimiter(Protocol):
    """At most ``max_concurrency`` calls in flight among everyone sharing the limiter."""

    max_concurrency: int

    def slot(self) -> AbstractContextManager[None]:
        """Hold one slot while the block runs (one API call)."""
        ...


def backoff(attempt: int, cap: float = MAX_POLL_SECONDS) -> float:
    """Seconds to wait after ``attempt`` rounds found every slot held (short, growing up to
    ``cap``, jittered)."""
    return min(POLL_SECONDS * 2**attempt, cap) * (1 + random.random())


class FifoTurns:
    """One thread at a time, in the order they asked (``threading.Lock`` promises no order)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Lock] = deque()

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._lock:
            gate = None
            if self._held:
                gate = threading.Lock()
                gate.acquire()
                self._waiting.append(gate)
            self._held = True
        if gate is not None:
            gate.acquire()  # released by the thread before this one: the turn is handed over
        try:
            yield
        finally:
            with self._lock:
                if self._waiting:
                    self._waiting.popleft().release()
                else:
                    self._held = False


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
        self._turns = FifoTurns()
        # A slot given back here wakes the thread polling for one (others' are polled for).
        self._freed = threading.Condition()
        self._releases = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._local:
            with self._turns.turn():
                fd = self._acquire()
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                with self._freed:
                    self._releases += 1
                    self._freed.notify()

    def _acquire(self) -> int:
        order = list(range(self.max_concurrency))
        attempt = 0
        while True:
            releases = self._releases
            random.shuffle(order)  # spread processes over the slots instead of all trying slot 0
            for index in order:
                fd = os.open(self.directory / f"slot-{index}", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                return fd
            with self._freed:
                if self._releases == releases:  # none given back here since the round began
                    self._freed.wait(backoff(attempt, FILE_MAX_POLL_SECONDS))
            attempt += 1


class AdvisoryLockLimiter:
    """Slots as PostgreSQL session-level advisory locks, shared by every host using the database.

    Each call in flight holds one of the limiter's connections (opened when first needed, at most
    ``max_concurrency``, closed once unused for ``idle_close_seconds``) and one lock
    ``(lock_key, slot)`` on it: one prepared query takes a slot, one gives it back, sent
    through the driver directly.

    Those two round trips to the database cost little on an idle machine (about 60 µs) but a
    millisecond or more on a busy one, as much as a zero-latency call. So a finished call keeps
    its lock for ``linger_seconds``: the next call of this process within that time takes it
    over without asking the database; the lock is given back once it has been idle that long,
    or has served ``max_reuses`` calls, so other processes get their turn. A kept lock is never
    in flight twice: the calls in flight stay at most one per lock, the locks at most
    ``max_concurrency``.

    :param engine: an engine on the warehouse (PostgreSQL, psycopg); only its connections are
        used, in autocommit mode.
    :param key: names the org and app whose cap this is (see ``limiter_key``).
    :param max_concurrency: slots (calls in flight) in all, on every host.
    :param linger_seconds: how long an idle slot is kept for this process's next call (0: none).
    :param max_reuses: calls one lock serves before it is given back.
    :param idle_close_seconds: how long a connection holding no lock stays open.
    """

    def __init__(
        self,
        engine: Engine,
        key: str,
        max_concurrency: int,
        *,
        linger_seconds: float = LINGER_SECONDS,
        max_reuses: int = MAX_REUSES,
        idle_close_seconds: float = IDLE_CLOSE_SECONDS,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.engine = engine
        self.lock_key = lock_key(key)
        self.linger_seconds = linger_seconds
        self.max_reuses = max_reuses
        self.idle_close_seconds = idle_close_seconds
        self._local = threading.BoundedSemaphore(max_concurrency)
        self._changed = threading.Condition()  # guards the lists below; wakes the reaper
        self._kept: list[_Lease] = []  # finished calls' locks, newest last
        self._idle: list[_Session] = []  # connections holding no lock, newest last
        self._reaper: threading.Thread | None = None
        # The statements as the driver takes them (its paramstyle), compiled once.
        self._take = str(text(sql("zoho/try_call_slot")).compile(dialect=engine.dialect))
        self._give = str(text(sql("zoho/release_call_slot")).compile(dialect=engine.dialect))
        self._errors: type[Exception] = engine.dialect.loaded_dbapi.Error

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._local:
            lease = self._kept_lease() or self._acquire()
            try:
                yield
            finally:
                self._finished(lease)

    def _kept_lease(self) -> _Lease | None:
        with self._changed:
            return self._kept.pop() if self._kept else None

    def _finished(self, lease: _Lease) -> None:
        """Keep the call's lock for the next call, or give it back when it has served enough."""
        lease.uses += 1
        if self.linger_seconds <= 0 or lease.uses >= self.max_reuses:
            self._release(lease.session, lease.index)
            return
        lease.kept_at = time.monotonic()
        with self._changed:
            self._kept.append(lease)
            self._wake_reaper()

    def _wake_reaper(self) -> None:
        """Start or wake the reaper (the caller holds ``_changed``)."""
        if self._reaper is None:
            self._reaper = threading.Thread(
                target=self._reap, name="crm-call-slot-reaper", daemon=True
            )
            self._reaper.start()
        self._changed.notify()

    def _reap(self) -> None:
        """Give back the locks kept idle for ``linger_seconds``, and close the connections idle
        for ``idle_close_seconds`` (a daemon thread, one per limiter)."""
        while True:
            with self._changed:
                now = time.monotonic()
                due = [k for k in self._kept if now - k.kept_at >= self.linger_seconds]
                stale = [c for c in self._idle if now - c.idle_since >= self.idle_close_seconds]
                if not due and not stale:
                    self._changed.wait(self._next_deadline(now))
                    continue
                self._kept = [k for k in self._kept if k not in due]
                self._idle = [c for c in self._idle if c not in stale]
            for lease in due:
                self._release(lease.session, lease.index)
            for session in stale:
                session.close()

    def _next_deadline(self, now: float) -> float | None:
        """Seconds until the reaper has work (None: none until woken); holding ``_changed``."""
        times = [k.kept_at + self.linger_seconds for k in self._kept]
        times += [c.idle_since + self.idle_close_seconds for c in self._idle]
        return max(min(times) - now, 0.001) if times else None

    def _acquire(self) -> _Lease:
        """A free slot from the database, or a lock another thread here finished with meanwhile."""
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
                return _Lease(session, index)
            time.sleep(backoff(attempt))
            attempt += 1
            kept = self._kept_lease()
            if kept is not None:
                self._idle_again(session)
                return kept

    def _release(self, session: _Session, index: int) -> None:
        try:
            session.query(self._give, {"lock_key": self.lock_key, "slot": index})
        except self._errors as exc:  # closing the session frees its lock all the same
            log.warning("Could not give back a Zoho call slot (%s); closing its connection", exc)
            session.close()
            return
        self._idle_again(session)

    def _idle_again(self, session: _Session) -> None:
        session.idle_since = time.monotonic()
        with self._changed:
            self._idle.append(session)
            self._wake_reaper()

    def _session(self) -> _Session:
        with self._changed:
            if self._idle:
                return self._idle.pop()
        return _Session(self.engine.connect())


@dataclass(eq=False)
class _Lease:
    """A slot's lock on one of the limiter's sessions, and the calls it served."""

    session: _Session
    index: int
    uses: int = 0
    kept_at: float = 0.0


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
        self.idle_since = 0.0  # when it last gave back its lock

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
