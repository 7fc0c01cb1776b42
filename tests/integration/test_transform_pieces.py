"""A chunk is decoded and mapped in pieces (staging.RAW_PIECE records at a time): it stages what
one piece of the whole chunk stages, and a record id that comes twice in a chunk keeps only its
newest version, whichever pieces the two versions fall in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crm_books import config
from crm_books.customers import staging
from crm_books.customers.plan import SyncRun
from crm_books.customers.transform import transform_run
from crm_books.warehouse.bulk import bulk_insert

RAW_COLUMNS = ("run_id", "module", "crm_id", "modified_time", "payload")
T = "2026-03-01T10:00:00+00:00"
STAMP = "2026-03-01 10:00:00.000000+00:00"


def _payloads(n: int) -> list[tuple[str, str, str]]:
    """(module, crm_id, payload): clean and odd records of both modules."""
    rows = []
    for i in range(n):
        name = [" Acme  Corp ", "Zu\u0308rich", "😀 ok", "x\u0000y", "\u00a0", 42, {"id": "9"}][
            i % 7
        ]
        account = {"id": f"a{i:04d}", "Account_Name": name, "Phone": f" {i} ", "Modified_Time": T}
        lookup = {"id": f"a{i % 50:04d}"} if i % 3 else None
        contact = {"id": f"c{i:04d}", "Last_Name": name, "Account_Name": lookup, "Modified_Time": T}
        rows.append((config.ACCOUNTS, f"a{i:04d}", json.dumps(account)))
        rows.append((config.CONTACTS, f"c{i:04d}", json.dumps(contact)))
    rows.append((config.ACCOUNTS, "a9998", '{"id": "a9998", "Account_Name": '))
    rows.append((config.CONTACTS, "c9998", "[1, 2]"))
    return rows


def _stage(engine: Engine, run_id: str, rows: list[tuple[str, str, str]]) -> None:
    with engine.begin() as conn:
        bulk_insert(
            conn, "stg_crm_records", RAW_COLUMNS, [(run_id, m, c, STAMP, p) for m, c, p in rows]
        )


def _staged(engine: Engine, run_id: str) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "customers": "SELECT * FROM books.stg_customers WHERE run_id = :r",
        "persons": "SELECT * FROM books.stg_contact_persons WHERE run_id = :r",
        "rejects": "SELECT * FROM books.stg_rejects WHERE run_id = :r",
    }
    staged = {}
    with engine.connect() as conn:
        for name, sql in queries.items():
            result = conn.execute(text(sql), {"r": run_id})
            keep = [i for i, key in enumerate(result.keys()) if key != "run_id"]
            staged[name] = sorted(tuple(str(row[i]) for i in keep) for row in result)
    return staged


def test_a_chunk_in_small_pieces_stages_what_one_piece_stages(
    warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _payloads(300)
    for run_id in ("one-piece", "small-pieces"):
        _stage(warehouse, run_id, rows)
    counts = transform_run(warehouse, SyncRun(run_id="one-piece"))
    monkeypatch.setattr(staging, "RAW_PIECE", 7)
    assert transform_run(warehouse, SyncRun(run_id="small-pieces")) == counts
    one, small = _staged(warehouse, "one-piece"), _staged(warehouse, "small-pieces")
    assert one == small
    assert len(one["customers"]) > 250 and len(one["persons"]) > 100 and len(one["rejects"]) > 100


def test_a_record_id_twice_in_a_chunk_keeps_its_newest_version_across_pieces(
    warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two crm_ids whose payloads carry the same record id (the chunk query keeps each crm_id
    once, not each payload id): the older version is dropped before mapping, so its unstorable
    Phone rejects nothing, as when the chunk is one frame."""
    newer = {"id": "7", "Account_Name": "Newer", "Modified_Time": "2026-03-02T10:00:00+00:00"}
    older = {"id": "7", "Account_Name": "Older", "Phone": "x\u0000", "Modified_Time": T}
    other = {"id": "8", "Account_Name": "Other", "Modified_Time": T}
    rows = [
        (config.ACCOUNTS, "7-a", json.dumps(older)),
        (config.ACCOUNTS, "7-b", json.dumps(other)),
        (config.ACCOUNTS, "7-c", json.dumps(newer)),
    ]
    _stage(warehouse, "twice", rows)
    monkeypatch.setattr(staging, "RAW_PIECE", 1)
    counts = transform_run(warehouse, SyncRun(run_id="twice", modules=(config.ACCOUNTS,)))
    assert counts == {"customers": 2, "contact_persons": 0, "rejected": 0}
    with warehouse.connect() as conn:
        names = conn.execute(
            text("SELECT company_name FROM books.stg_customers WHERE run_id = 'twice'")
        ).scalars()
        assert sorted(names) == ["Newer", "Other"]
