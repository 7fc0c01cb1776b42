"""The quality gate where the rows are: on both backends, the SQL screen plus GX on the screened
rows files exactly the rejects, reasons, quality results and table-level verdicts that GX on every
staged row gives (the gate before the screen), for hostile and malformed input, and the same on
PostgreSQL as on SQLite."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from crm_books import config
from crm_books.customers import quality
from crm_books.customers.columns import CONTACT_PERSON_COLUMNS, MAX_LENGTHS
from crm_books.customers.plan import SyncRun
from crm_books.customers.quality_checks import WHITESPACE, spelt_out
from crm_books.customers.staging import (
    STG_CONTACT_PERSON_COLUMNS,
    STG_CUSTOMER_COLUMNS,
    Chunk,
    stage_frame,
    staged_chunk,
)
from crm_books.customers.validate import GATE_QUERIES, checked_rows, validate_chunk
from tests.unit.test_quality import (
    MALFORMED_EMAILS,
    SENSIBLE_EMAILS,
    account,
    frame,
    individual,
    person,
)

# Whitespace Python's \s knows and PostgreSQL's may not, and look-alikes that are not whitespace.
ODD_SPACES = ["\u00a0", "\u2003", "\u3000", "\x1c", "\x85", "\u2028", "\u202f"]
NOT_SPACES = ["\u200b", "\ufeff", "\u180e"]
HOSTILE_EMAILS = [
    *MALFORMED_EMAILS,
    *SENSIBLE_EMAILS,
    *(f"bob{s}smith@example.com" for s in ODD_SPACES + NOT_SPACES),
    *(f"bob@example.com{s}" for s in ODD_SPACES),
    "Robert'); DROP TABLE customers;--@example.com",
    "%@example.com",
    "_@example.com",
    "bob@example.com\\",
]
CUSTOMER_FIELDS = [c for c in MAX_LENGTHS if c in STG_CUSTOMER_COLUMNS]
PERSON_FIELDS = [c for c in MAX_LENGTHS if c in STG_CONTACT_PERSON_COLUMNS]


def _faults(fields: list[str], name: str) -> list[dict[str, Any]]:
    """One row per way a row-level check can fail (and near misses that pass): every field one
    character over its limit, and at its limit in characters of several bytes."""
    faults: list[dict[str, Any]] = [{}, {name: None}, {"crm_modified_time": None}]
    faults += [{name: s * 3} for s in ODD_SPACES + NOT_SPACES] + [{name: ""}]
    faults += [{"email": email} for email in HOSTILE_EMAILS]
    for column in fields:
        limit = MAX_LENGTHS[column]
        faults += [{column: "x" * (limit + 1)}, {column: "ü" * limit}, {column: "🚀" * (limit + 1)}]
    return faults


def _accounts() -> pd.DataFrame:
    faults = _faults(CUSTOMER_FIELDS, "contact_name")
    faults += [{"customer_sub_type": v} for v in (None, "partner", "Business", "business ")]
    faults += [{"crm_account_id": None, "crm_contact_id": "7770000099"}]
    faults += [{"crm_account_id": s * 2} for s in ODD_SPACES + NOT_SPACES]
    return frame([account(i, **f) for i, f in enumerate(faults)])


def _individuals() -> pd.DataFrame:
    faults = _faults(CUSTOMER_FIELDS, "contact_name")
    return frame([individual(i, **f) for i, f in enumerate(faults)])


def _persons() -> pd.DataFrame:
    faults = _faults(PERSON_FIELDS, "last_name")
    faults += [{"first_name": None, "last_name": None}, {"first_name": None}, {"last_name": None}]
    return frame([person(i, **f) for i, f in enumerate(faults)], CONTACT_PERSON_COLUMNS)


def _stage(engine: Engine, run_id: str, module: str, **frames: pd.DataFrame) -> None:
    with engine.begin() as conn:
        if "customers" in frames:
            stage_frame(
                conn,
                "stg_customers",
                frames["customers"],
                STG_CUSTOMER_COLUMNS,
                run_id,
                module=module,
            )
        if "persons" in frames:
            stage_frame(
                conn, "stg_contact_persons", frames["persons"], STG_CONTACT_PERSON_COLUMNS, run_id
            )


def _whole_chunk_gate(engine: Engine, run: SyncRun, chunk: Chunk) -> dict[str, Any]:
    """What the gate decided before the screen: GX on every staged row of the chunk."""
    module = chunk["module"]
    labels = ["customers", *(["contact persons"] if module == config.CONTACTS else [])]
    rejects, results, errors = [], [], []
    for label in labels:
        staged = staged_chunk(engine, GATE_QUERIES[label], run, chunk)
        if label == "contact persons":
            result = quality.validate_contact_persons(
                staged, max_reject_fraction=run.max_reject_fraction
            )
        else:
            result = quality.validate_customers(
                staged, module=module, max_reject_fraction=run.max_reject_fraction
            )
        rejects += [(module, r.crm_id, r.reason) for r in result.rejects.itertuples()]
        results += [
            (label, len(staged), o.expectation, o.column, o.failed_rows, o.success, o.error)
            for o in result.expectations
        ]
        errors += [f"{module} {label}: {e}" for e in result.table_errors]
    return {
        "rejects": sorted(rejects, key=str),
        "results": sorted(results, key=str),
        "errors": errors,
    }


def _gate(engine: Engine, run: SyncRun, chunk: Chunk) -> dict[str, Any]:
    """What the gate files now: its counts, its rejects and its quality results."""
    counts = validate_chunk(engine, run, chunk)
    with engine.connect() as conn:
        rejects = conn.execute(
            text("SELECT module, crm_id, reason FROM books.stg_rejects WHERE run_id = :r"),
            {"r": run.run_id},
        )
        results = conn.execute(
            text(
                "SELECT frame, rows_checked, expectation, column_name, failed_rows, success, "
                "error FROM books.quality_results WHERE run_id = :r"
            ),
            {"r": run.run_id},
        )
        return {
            "rejects": sorted((tuple(r) for r in rejects), key=str),
            "results": sorted(
                ((f, n, e, c, fr, bool(s), err) for f, n, e, c, fr, s, err in results), key=str
            ),
            "errors": counts["errors"],
        }


def _expected(module: str, **frames: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The rejects GX gives on the frames in memory, before any database saw them."""
    rejects = []
    if "customers" in frames:
        found = quality.validate_customers(
            frames["customers"], module=module, max_reject_fraction=1.0
        )
        rejects += list(found.rejects.itertuples(index=False))
    if "persons" in frames:
        rejects += list(
            quality.validate_contact_persons(
                frames["persons"], max_reject_fraction=1.0
            ).rejects.itertuples(index=False)
        )
    return sorted(((module, r.crm_id, r.reason) for r in rejects), key=str)


CHUNK_OF = {
    m: Chunk(module=m, after="", until=None, label=f"{m} 1 of 1") for m in config.SYNC_MODULES
}


@pytest.mark.parametrize(
    ("module", "frames"),
    [
        (config.ACCOUNTS, lambda: {"customers": _accounts()}),
        (config.CONTACTS, lambda: {"customers": _individuals(), "persons": _persons()}),
    ],
    ids=["accounts", "contacts"],
)
@pytest.mark.parametrize("max_reject_fraction", [1.0, 0.2])
def test_hostile_rows_get_the_same_rejects_reasons_and_results(
    warehouse: Engine, module: str, frames: Any, max_reject_fraction: float
) -> None:
    staged = frames()
    run = SyncRun(run_id=f"hostile-{module}", max_reject_fraction=max_reject_fraction)
    _stage(warehouse, run.run_id, module, **staged)

    reference = _whole_chunk_gate(warehouse, run, CHUNK_OF[module])
    got = _gate(warehouse, run, CHUNK_OF[module])

    assert got == reference
    # The same on either backend: what GX says of the rows in memory.
    assert got["rejects"] == _expected(module, **staged)
    assert len(got["rejects"]) > 60, "most hostile rows are refused"
    assert bool(got["errors"]) == (max_reject_fraction < 1.0)


def test_duplicate_ids_fail_the_table_with_the_same_message(warehouse: Engine) -> None:
    rows = [account(i) for i in range(40)]
    for i in (5, 17, 33):
        rows[i + 1]["crm_account_id"] = rows[i]["crm_account_id"]
    rows[20]["email"] = "bob@"
    run = SyncRun(run_id="duplicates")
    _stage(warehouse, run.run_id, config.ACCOUNTS, customers=frame(rows))

    reference = _whole_chunk_gate(warehouse, run, CHUNK_OF[config.ACCOUNTS])
    got = _gate(warehouse, run, CHUNK_OF[config.ACCOUNTS])

    assert got == reference
    [error] = got["errors"]
    assert "3 crm_account_id value(s) on more than one row" in error


def test_the_screen_hands_gx_only_rows_that_may_fail(warehouse: Engine) -> None:
    df = frame([account(i, **({"email": "bob@"} if i % 10 == 0 else {})) for i in range(100)])
    run = SyncRun(run_id="screen")
    _stage(warehouse, run.run_id, config.ACCOUNTS, customers=df)

    rows, screened = checked_rows(warehouse, "customers", run, CHUNK_OF[config.ACCOUNTS])

    assert rows == 100
    assert screened is not None
    assert list(screened["email"]) == ["bob@"] * 10
    assert set(screened.columns) == set(df.columns)


def test_a_chunk_over_max_rows_is_checked_whole(
    warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quality, "MAX_ROWS", 3)
    run = SyncRun(run_id="too-many")
    _stage(warehouse, run.run_id, config.ACCOUNTS, customers=frame([account(i) for i in range(4)]))

    got = _gate(warehouse, run, CHUNK_OF[config.ACCOUNTS])

    assert got == _whole_chunk_gate(warehouse, run, CHUNK_OF[config.ACCOUNTS])
    assert "has 4 rows, more than the 3" in got["errors"][0]


def test_whitespace_is_what_python_calls_whitespace() -> None:
    found = "".join(c for c in map(chr, range(0x110000)) if re.fullmatch(r"\s", c))
    assert found == WHITESPACE
    assert re.fullmatch(spelt_out(r"[^@\s]\S"), "a\u3000") is None
    assert re.fullmatch(spelt_out(r"[^@\s]\S"), "ab") is not None
