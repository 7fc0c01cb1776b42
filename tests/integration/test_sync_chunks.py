"""Chunks as mapped tasks: the transform and the quality gate give the same result in many chunks,
several at once in their own processes (as an executor runs them), as in one chunk; a retried
chunk stages its rows once; the plan the tasks pass survives JSON."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crm_books import config
from crm_books.customers.extract import _raw_row
from crm_books.customers.plan import SyncRun
from crm_books.customers.quality import QualityGateError
from crm_books.customers.staging import list_chunks
from crm_books.customers.transform import transform_chunk, transform_run, transformed
from crm_books.customers.validate import gate, validate_chunk, validate_run
from crm_books.warehouse.bulk import bulk_insert
from devtools.bench.chunk_pool import map_chunks
from zoho_sandbox.generator import Generator

RECORDS = 600


def _stage_raw(engine: Engine, run_id: str) -> None:
    """What extract_module leaves in staging: every generated record, plus an older second
    version of every tenth one (the transform must keep only the newest)."""
    gen = Generator(seed=11, accounts=RECORDS * 2 // 5, contacts=RECORDS * 3 // 5, deals=0)
    rows = []
    for module in config.SYNC_MODULES:
        for i, record in enumerate(gen.iter_records(module)):
            rows.append(_raw_row(run_id, module, record)[0])
            if i % 10 == 0:
                older = {**record, "Modified_Time": "2001-01-01T00:00:00+00:00", "Phone": "old"}
                rows.append(_raw_row(run_id, module, older)[0])
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
def test_many_chunks_at_once_stage_what_one_chunk_stages(
    warehouse: Engine, warehouse_uri: str
) -> None:
    one, many = SyncRun(run_id="one-chunk"), SyncRun(run_id="many-chunks")
    for run in (one, many):
        _stage_raw(warehouse, run.run_id)
    transform_run(warehouse, one, chunk_size=10_000)
    validate_run(warehouse, one, chunk_size=10_000)
    chunks = list_chunks(warehouse, many, chunk_size=97)
    assert len(chunks) > 4
    # Three chunk tasks at a time, each in its own process: on SQLite their writes queue for the
    # write lock, on PostgreSQL they run side by side.
    counts = map_chunks(warehouse_uri, "transform", many, chunks, workers=3)
    totals = transformed(counts)
    checked = gate(warehouse, many, map_chunks(warehouse_uri, "validate", many, chunks, workers=3))

    expected, got = _staged(warehouse, one.run_id), _staged(warehouse, many.run_id)
    assert got == expected
    # Every record once: accounts become customers, contacts customers or contact persons.
    assert sum(totals.values()) == RECORDS
    assert len(got["customers"]) == totals["customers"]
    assert checked["checked"] == totals["customers"] + totals["contact_persons"]
    # The older versions lost: no staged phone says "old".
    assert not [row for row in got["customers"] if "old" in row]
    assert got["rejects"], "the generator's messy records give some rejects with reasons"
    assert all(row[4] not in ("", "None") for row in got["rejects"]), "each keeps its raw payload"


@pytest.mark.slow
def test_a_retried_chunk_stages_its_rows_once(warehouse: Engine) -> None:
    once, twice = SyncRun(run_id="once"), SyncRun(run_id="twice")
    for run in (once, twice):
        _stage_raw(warehouse, run.run_id)
    for run, attempts in ((once, 1), (twice, 2)):
        for chunk in list_chunks(warehouse, run, chunk_size=150):
            for _attempt in range(attempts):  # a retry runs the whole chunk again
                transform_chunk(warehouse, run, chunk)
                validate_chunk(warehouse, run, chunk)
    assert _staged(warehouse, twice.run_id) == _staged(warehouse, once.run_id)


def test_a_chunk_failing_a_table_check_fails_the_gate_and_names_it(warehouse: Engine) -> None:
    results = [
        {"rows": 50, "rejected": 1, "errors": []},
        {"rows": 40, "rejected": 30, "errors": ["Accounts customers: 30 of 40 rows failed"]},
    ]
    with pytest.raises(QualityGateError, match="nothing was loaded: Accounts customers: 30 of 40"):
        gate(warehouse, SyncRun(run_id="bad"), results)
    assert gate(warehouse, SyncRun(run_id="good"), results[:1]) == {"checked": 50, "rejected": 1}


def test_the_plan_the_tasks_pass_is_json_and_gives_back_the_run() -> None:
    run = SyncRun(
        run_id="scheduled__2026-11-02T00:00:00+00:00",
        interval_start=datetime(2026, 11, 1, 12, tzinfo=UTC),
        interval_end=datetime(2026, 11, 2, tzinfo=UTC),
        full_refresh=True,
        modules=("Contacts",),
        max_reject_fraction=0.05,
    )
    plan = json.loads(json.dumps(run.to_dict()))
    assert SyncRun.from_dict(plan) == run
    assert plan["modules"] == ["Contacts"] and plan["interval_start"] == "2026-11-01T12:00:00+00:00"
    assert SyncRun.from_dict({"run_id": "manual"}) == SyncRun(run_id="manual")


def test_generator_payloads_round_trip_through_the_raw_row() -> None:
    """The extract writes each record as compact JSON text (msgspec, or the standard library
    for text msgspec cannot encode); both give the same text."""
    import json

    gen = Generator(seed=11, accounts=50, contacts=50, deals=0)
    for record in itertools.chain(*(gen.iter_records(m) for m in config.SYNC_MODULES)):
        payload = _raw_row("r", "Accounts", record)[0][4]
        assert payload == json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    odd = {"id": "1", "Account_Name": "lone \ud800 surrogate"}
    assert json.loads(_raw_row("r", "Accounts", odd)[0][4]) == odd
