"""Chunk workers: the transform and the quality gate give the same result in many chunks, in
worker processes, as in one chunk in the task process."""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crm_books import config
from crm_books.customers.chunk_workers import WORKERS_ENV, default_workers, map_chunks
from crm_books.customers.extract import _raw_row
from crm_books.customers.plan import SyncRun
from crm_books.customers.transform import transform_run
from crm_books.customers.validate import validate_run
from crm_books.warehouse.bulk import bulk_insert
from crm_books.warehouse.sql_files import dialect
from zoho_sandbox.generator import Generator

RECORDS = 600


def _stage_raw(engine: Engine, run_id: str) -> None:
    """What extract_module leaves in staging: every generated record, plus an older second
    version of every tenth one (the transform must keep only the newest)."""
    gen = Generator(seed=11, accounts=RECORDS * 2 // 5, contacts=RECORDS * 3 // 5, deals=0)
    rows = []
    for module in config.SYNC_MODULES:
        for i, record in enumerate(gen.iter_records(module)):
            rows.append(_raw_row(run_id, module, record))
            if i % 10 == 0:
                older = {**record, "Modified_Time": "2001-01-01T00:00:00+00:00", "Phone": "old"}
                rows.append(_raw_row(run_id, module, older))
    with engine.begin() as conn:
        bulk_insert(
            conn,
            "stg_crm_records",
            ("run_id", "module", "crm_id", "modified_time", "payload"),
            rows,
        )


def _staged(engine: Engine, run_id: str) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "customers": "SELECT * FROM books.stg_customers WHERE run_id = :r",
        "contact persons": "SELECT * FROM books.stg_contact_persons WHERE run_id = :r",
        "rejects": "SELECT stage, module, crm_id, reason, raw_payload FROM books.stg_rejects "
        "WHERE run_id = :r",
    }
    staged = {}
    with engine.connect() as conn:
        for name, sql in queries.items():
            result = conn.execute(text(sql), {"r": run_id})
            keep = [i for i, key in enumerate(result.keys()) if key != "run_id"]
            staged[name] = sorted(
                (tuple(str(row[i]) for i in keep) for row in result), key=lambda r: r
            )
    return staged


@pytest.mark.slow
def test_many_chunks_in_workers_stage_what_one_chunk_stages(warehouse: Engine) -> None:
    one = SyncRun(run_id="one-chunk", workers=1)
    many = SyncRun(run_id="many-chunks", workers=2)
    for run in (one, many):
        _stage_raw(warehouse, run.run_id)
    transform_run(warehouse, one, chunk_size=10_000)
    validate_run(warehouse, one, chunk_size=10_000)
    transformed = transform_run(warehouse, many, chunk_size=97)
    checked = validate_run(warehouse, many, chunk_size=97)

    expected, got = _staged(warehouse, one.run_id), _staged(warehouse, many.run_id)
    assert got == expected
    # Every record once: accounts become customers, contacts customers or contact persons.
    assert sum(transformed.values()) == RECORDS
    assert len(got["customers"]) == transformed["customers"]
    assert checked["checked"] == transformed["customers"] + transformed["contact_persons"]
    # The older versions lost: no staged phone says "old".
    assert not [row for row in got["customers"] if "old" in row]
    assert got["rejects"], "the generator's messy records give some rejects with reasons"


def _pid(_engine: Engine, job: int) -> tuple[int, int]:
    return job, os.getpid()


def _fail_on(_engine: Engine, job: int) -> int:
    if job == 3:
        raise ValueError(f"chunk {job} is broken")
    return job


def test_chunks_run_in_worker_processes_on_postgresql_only(warehouse: Engine) -> None:
    results = list(map_chunks(warehouse, _pid, [(j,) for j in range(6)], workers=2))

    assert [job for job, _pid in results] == list(range(6))  # in job order
    pids = {pid for _job, pid in results}
    if dialect(warehouse) == "postgresql":
        assert os.getpid() not in pids
        assert 1 <= len(pids) <= 2
    else:  # SQLite takes one writer at a time: the task process does every chunk
        assert pids == {os.getpid()}


def test_a_failing_chunk_fails_the_task(warehouse: Engine) -> None:
    with pytest.raises(ValueError, match="chunk 3 is broken"):
        list(map_chunks(warehouse, _fail_on, [(j,) for j in range(6)], workers=2))


def test_worker_count_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert default_workers() == 3
    monkeypatch.delenv(WORKERS_ENV)
    assert 1 <= default_workers() <= 4
    for bad, message in (("two", "whole number"), ("0", "at least 1")):
        monkeypatch.setenv(WORKERS_ENV, bad)
        with pytest.raises(ValueError, match=message):
            default_workers()


def test_generator_payloads_round_trip_through_the_raw_row() -> None:
    """The extract writes each record as compact JSON text (msgspec, or the standard library
    for text msgspec cannot encode); both give the same text."""
    import json

    gen = Generator(seed=11, accounts=50, contacts=50, deals=0)
    for record in itertools.chain(*(gen.iter_records(m) for m in config.SYNC_MODULES)):
        payload = _raw_row("r", "Accounts", record)[4]
        assert payload == json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    odd = {"id": "1", "Account_Name": "lone \ud800 surrogate"}
    assert json.loads(_raw_row("r", "Accounts", odd)[4]) == odd
