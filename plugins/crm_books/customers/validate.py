"""The quality gate over staged rows: rejects filed, a failing table stops the run."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from crm_books import config
from crm_books.warehouse.sql_files import run_sql

if TYPE_CHECKING:
    pass
from crm_books.customers.plan import SyncRun
from crm_books.customers.run_log import mark_run_failed
from crm_books.customers.staging import (
    STG_REJECT_COLUMNS,
    TRANSFORM_CHUNK,
    add_up,
    chunk_starts,
    stage_frame,
    staged_chunk,
)

log = logging.getLogger(__name__)


# What the quality gate reads, by label: the query of the staged rows and the one of its chunk starts.
GATE_TARGETS = {
    "customers": ("sync/select_staged_customers", "sync/select_staged_customer_chunk_starts"),
    "contact persons": (
        "sync/select_staged_contact_persons",
        "sync/select_staged_contact_person_chunk_starts",
    ),
}


def validate_run(
    engine: Engine, run: SyncRun, *, chunk_size: int = TRANSFORM_CHUNK
) -> dict[str, int]:
    """The Great Expectations gate: failing rows are filed as rejects, a failing table stops the run."""
    with engine.begin() as conn:
        run_sql(conn, "sync/delete_quality_rejects", {"run_id": run.run_id})
    targets = [(m, "customers") for m in run.modules]
    if config.CONTACTS in run.modules:
        targets.append((config.CONTACTS, "contact persons"))
    jobs = [
        (run, module, label, after, chunk_size)
        for module, label in targets
        for after in chunk_starts(engine, GATE_TARGETS[label][1], run, module, chunk_size)
    ]
    counts, errors = add_up(engine, run, "quality gate", validate_chunk, jobs)
    with engine.begin() as conn:
        run_sql(conn, "sync/fill_reject_payloads", {"run_id": run.run_id})
    log.info("quality gate: %d rows checked, %d rejected", counts["rows"], counts["rejected"])
    if errors:
        message = "quality gate failed, nothing was loaded: " + " | ".join(errors)
        mark_run_failed(engine, run.run_id, message)
        from crm_books.customers.quality import QualityGateError

        raise QualityGateError(message)
    return {"checked": counts["rows"], "rejected": counts["rejected"]}


def validate_chunk(
    engine: Engine, run: SyncRun, module: str, label: str, after: str, chunk_size: int
) -> dict[str, Any]:
    """Run the gate on one keyset chunk of staged rows and stage its rejects (one transaction)."""
    from crm_books.customers import quality

    frame = staged_chunk(engine, GATE_TARGETS[label][0], run.run_id, module, after, chunk_size)
    if frame.empty:
        return {"rows": 0, "rejected": 0, "errors": []}
    if label == "contact persons":
        result = quality.validate_contact_persons(
            frame, max_reject_fraction=run.max_reject_fraction
        )
    else:
        result = quality.validate_customers(
            frame, module=module, max_reject_fraction=run.max_reject_fraction
        )
    with engine.begin() as conn:
        stage_frame(
            conn, "stg_rejects", result.rejects, STG_REJECT_COLUMNS, run.run_id, stage="quality"
        )
    return {
        "rows": len(frame),
        "rejected": len(result.rejects),
        "errors": [f"{module} {label}: {e}" for e in result.table_errors],
    }
