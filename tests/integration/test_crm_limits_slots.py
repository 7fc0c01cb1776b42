"""The limiter's slots on both warehouses: advisory locks on PostgreSQL (any host), flocks on
SQLite (one host). A killed process frees its slot, a call holds exactly one, a connection the
server dropped is replaced, and a slot costs microseconds, not a measurable part of a call.

Run as a script (`python -m tests.integration.test_crm_limits_slots SPEC`), this module is a
process that takes a slot and holds it until it is killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, NullPool, create_engine, text

from crm_books.warehouse.engine import normalize_uri
from crm_books.zoho.limiter import (
    LIMITER_APPLICATION_NAME,
    AdvisoryLockLimiter,
    CallLimiter,
    FileLockLimiter,
    database_limiter,
    limiter_key,
)

ROOT = Path(__file__).resolve().parents[2]
API, CLIENT = "https://www.zohoapis.com", "1000.LIMITS"
CALLS = 2000  # acquire/release pairs timed, in batches
BATCHES = 10
# A zero-latency sandbox call costs a millisecond or more; a slot must stay far below that
# (without kept slots, two round trips to PostgreSQL cost 100-400 µs on a busy machine).
MAX_MICROSECONDS_PER_SLOT = 150
# Advisory locks are PostgreSQL's: these tests run on that warehouse only.
ON_POSTGRES = pytest.mark.parametrize(
    "warehouse_uri", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def build(spec: dict[str, Any]) -> CallLimiter:
    """The limiter a task process of this warehouse gets: the warehouse's, or the host's."""
    if spec["uri"].startswith("postgresql"):
        return database_limiter(normalize_uri(spec["uri"]), API, CLIENT, spec["cap"])
    return FileLockLimiter(spec["cap"], Path(spec["directory"]))


@pytest.fixture
def spec(warehouse_uri: str, tmp_path: Path) -> dict[str, Any]:
    return {"uri": warehouse_uri, "directory": str(tmp_path / "slots"), "cap": 1}


@pytest.fixture
def holder(spec: dict[str, Any]) -> Iterator[subprocess.Popen[str]]:
    """Another task process holding the only slot, until it is killed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.test_crm_limits_slots", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def take_in_thread(limiter: CallLimiter) -> tuple[threading.Thread, threading.Event]:
    """A caller waiting for a slot in a thread; the event is set once it has one."""
    got = threading.Event()

    def call() -> None:
        with limiter.slot():
            got.set()

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, got


def test_a_process_killed_while_holding_its_slot_frees_it(
    spec: dict[str, Any], holder: subprocess.Popen[str]
) -> None:
    thread, got = take_in_thread(build(spec))
    assert not got.wait(1.0)  # the other process holds the only slot

    os.kill(holder.pid, signal.SIGKILL)  # no finally, no release: only the OS can free it
    killed = time.monotonic()

    assert got.wait(10.0), "the killed process's slot was never freed"
    assert time.monotonic() - killed < 5.0
    thread.join(timeout=5)


@ON_POSTGRES
def test_each_call_in_flight_holds_exactly_one_advisory_lock(
    spec: dict[str, Any], warehouse: Engine
) -> None:
    limiter = build({**spec, "cap": 4})
    release = threading.Event()
    started = threading.Barrier(5)

    def call() -> None:
        with limiter.slot():
            started.wait(timeout=10)
            release.wait(timeout=10)

    callers = [threading.Thread(target=call, daemon=True) for _ in range(4)]
    for caller in callers:
        caller.start()
    started.wait(timeout=10)
    fifth, got = take_in_thread(limiter)
    try:
        assert not got.wait(0.5)  # four in flight: the fifth waits
        assert advisory_locks(warehouse) == 4  # one each, on four distinct slots
    finally:
        release.set()
    assert got.wait(10.0)
    for thread in [*callers, fifth]:
        thread.join(timeout=10)
    # Kept for this process's next call a moment, then given back (not left to the sessions'
    # end): nothing is held once the calls stopped.
    assert locks_within(warehouse, 0, seconds=1.0)


@ON_POSTGRES
def test_a_limiter_connection_the_server_dropped_is_replaced(
    spec: dict[str, Any], warehouse: Engine
) -> None:
    limiter = build({**spec, "cap": 2})
    with limiter.slot():
        pass
    assert locks_within(warehouse, 0, seconds=1.0)  # given back: the connection is idle
    with warehouse.connect() as conn:
        dropped = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": LIMITER_APPLICATION_NAME},
        ).scalar_one()
    assert dropped == 1
    time.sleep(0.2)

    with limiter.slot():  # the idle connection is gone: a fresh one takes the slot
        assert advisory_locks(warehouse) == 1


def test_a_slot_costs_microseconds(spec: dict[str, Any]) -> None:
    limiter = build({**spec, "cap": 4})
    with limiter.slot():  # the first opens the connection
        pass
    batches = []  # the fastest batch is the cost; slower ones are other load on the machine
    for _ in range(BATCHES):
        started = time.perf_counter()
        for _ in range(CALLS // BATCHES):
            with limiter.slot():
                pass
        batches.append((time.perf_counter() - started) / (CALLS // BATCHES) * 1e6)
    print(
        f"{type(limiter).__name__}: {min(batches):.0f} µs per acquire and release "
        f"(median batch {sorted(batches)[BATCHES // 2]:.0f} µs)"
    )
    assert min(batches) < MAX_MICROSECONDS_PER_SLOT


@ON_POSTGRES
def test_a_busy_process_keeps_its_slot_between_calls_but_lets_another_in(
    spec: dict[str, Any], warehouse: Engine
) -> None:
    busy = build({**spec, "cap": 1})  # this process calling back to back
    other = AdvisoryLockLimiter(
        create_engine(normalize_uri(spec["uri"]), poolclass=NullPool), limiter_key(API, CLIENT), 1
    )  # another process of the same org and app (its own connections)
    stop = threading.Event()
    calls = 0

    def keep_calling() -> None:
        nonlocal calls
        while not stop.is_set():
            with busy.slot():
                calls += 1

    caller = threading.Thread(target=keep_calling, daemon=True)
    caller.start()
    try:
        started = time.monotonic()
        with other.slot():  # waits for a turn: the busy one gives its lock back now and then
            waited = time.monotonic() - started
            seen = calls
            time.sleep(0.1)
            assert calls == seen  # while the other holds the only slot, the busy one waits
    finally:
        stop.set()
        caller.join(timeout=10)
    assert waited < 5.0 and calls > 0


@ON_POSTGRES
def test_connections_unused_for_a_while_are_closed(spec: dict[str, Any], warehouse: Engine) -> None:
    named = {"application_name": "test limiter"}
    engine = create_engine(normalize_uri(spec["uri"]), poolclass=NullPool, connect_args=named)
    limiter = AdvisoryLockLimiter(engine, limiter_key(API, CLIENT), 2, idle_close_seconds=0.3)
    with limiter.slot():
        assert limiter_connections(warehouse) == 1

    deadline = time.monotonic() + 5
    while limiter_connections(warehouse) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert limiter_connections(warehouse) == 0  # a long-lived process holds none while idle
    with limiter.slot():  # and opens one again when it calls
        assert advisory_locks(warehouse) == 1


def limiter_connections(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": "test limiter"},
            ).scalar_one()
        )


def locks_within(engine: Engine, expected: int, seconds: float) -> bool:
    """Whether the limiter's locks come to `expected` within `seconds`."""
    deadline = time.monotonic() + seconds
    while advisory_locks(engine) != expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def advisory_locks(engine: Engine) -> int:
    """The advisory locks of the two-integer form (the limiter's) held in this database."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted "
                    "AND d.datname = current_database()"
                )
            ).scalar_one()
        )


def main(spec_json: str) -> None:
    with build(json.loads(spec_json)).slot():
        print("holding", flush=True)
        time.sleep(120)


if __name__ == "__main__":
    main(sys.argv[1])
