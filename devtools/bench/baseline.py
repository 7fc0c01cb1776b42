"""The load baseline: row-by-row upserts of loaded customers into a fresh warehouse."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, column, select, table

from crm_books import config as crm_config
from crm_books.customers.columns import CUSTOMER_COLUMNS
from devtools.bench.measure import Timer
from devtools.bench.report import SECTION_LOAD, PhaseResult

BASELINE_MAX = 20_000
BASELINE_COMMIT_EVERY = 1_000


def _customer_sample(engine: Engine, limit: int) -> list[dict[str, Any]]:
    cols = ("source", "status", *CUSTOMER_COLUMNS, "created_at", "updated_at")
    t = table(
        "customers", *(column(c) for c in cols), column("customer_id"), schema=crm_config.SCHEMA
    )
    query = select(*(t.c[c] for c in cols)).order_by(t.c.customer_id).limit(limit)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def naive_upsert(engine: Engine, rows: Sequence[dict[str, Any]], *, commit_every: int) -> int:
    """The baseline: one INSERT ... ON CONFLICT DO UPDATE round trip per customer (SQLAlchemy
    Core), committing every ``commit_every`` rows."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    cols = tuple(rows[0]) if rows else ()
    target = table("customers", *(column(c) for c in cols), schema=crm_config.SCHEMA)
    done = 0
    conn = engine.connect()
    try:
        trans = conn.begin()
        for row in rows:
            key = "crm_account_id" if row.get("crm_account_id") else "crm_contact_id"
            stmt = insert(target).values(**row)
            update = {c: stmt.excluded[c] for c in cols if c not in (key, "created_at", "source")}
            conn.execute(stmt.on_conflict_do_update(index_elements=[key], set_=update))
            done += 1
            if done % commit_every == 0:
                trans.commit()
                trans = conn.begin()
        trans.commit()
    finally:
        conn.close()
    return done


def run_baseline(
    timer: Timer, engine: Engine, baseline_uri: str, limit: int, set_based: PhaseResult
) -> None:
    """Row-by-row upserts of the first ``limit`` loaded customers into a fresh warehouse."""
    from crm_books.warehouse.engine import create_warehouse_engine
    from crm_books.warehouse.migrations import migrate

    rows = _customer_sample(engine, limit)
    target = create_warehouse_engine(baseline_uri)
    try:
        migrate(target)
        with timer.phase(SECTION_LOAD, "row-by-row upserts (baseline)") as t:
            t.records = naive_upsert(target, rows, commit_every=BASELINE_COMMIT_EVERY)
    finally:
        target.dispose()
    timer.report.rows.append(
        PhaseResult(
            SECTION_LOAD,
            "set-based load (full sync)",
            set_based.records,
            set_based.seconds,
            set_based.peak_rss_mb,
            cpu_seconds=set_based.cpu_seconds,
        )
    )
