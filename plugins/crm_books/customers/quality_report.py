"""Issue 15 part 6: the quality gate's expectation outcomes, kept in books.quality_results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from crm_books.customers.gx_suite import raised
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.timestamps import db_now


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation that ran on a frame: how many rows failed it, or why it could not run."""

    expectation: str
    column: str | None
    failed_rows: int
    success: bool
    error: str | None


def outcomes(results: Sequence[Any]) -> tuple[ExpectationOutcome, ...]:
    """The outcomes of a suite's GX results, in the suite's order."""
    found = []
    for result in results:
        config = result.expectation_config
        found.append(
            ExpectationOutcome(
                expectation=str(config.type),
                column=(config.kwargs or {}).get("column"),
                failed_rows=int((result.result or {}).get("unexpected_count") or 0),
                success=bool(result.success),
                error=raised(result),
            )
        )
    return tuple(found)


def record_outcomes(
    conn: Connection,
    params: dict[str, Any],
    frames: Sequence[tuple[str, int, Sequence[ExpectationOutcome]]],
) -> None:
    """Replace a chunk's rows in books.quality_results: (frame label, rows checked, outcomes)."""
    run_sql(conn, "quality/delete_chunk_results", params)
    rows = [
        {
            **params,
            "frame": label,
            "expectation": o.expectation,
            "column_name": o.column,
            "rows_checked": checked,
            "failed_rows": o.failed_rows,
            "success": o.success,
            "error": o.error,
            "checked_at": db_now(),
        }
        for label, checked, found in frames
        for o in found
    ]
    if rows:
        run_sql(conn, "quality/insert_result", rows)
