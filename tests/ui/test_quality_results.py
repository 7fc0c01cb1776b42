"""Issue 15 part 6: the quality gate's results per run and chunk in books.quality_results, after a
run with rejects, and the page section that shows them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from crm_books.customers.plan import SyncRun
from crm_books.customers.staging import list_chunks
from crm_books.customers.transform import transform_run
from crm_books.customers.validate import validate_chunk, validate_run
from crm_books_ui.page import render_page
from crm_books_ui.queries import load_dashboard
from tests.integration.test_sync_chunks import _stage_raw


def test_each_chunks_expectations_and_failed_rows_are_kept_and_shown(warehouse: Engine) -> None:
    run = SyncRun(run_id="scheduled__quality")
    _stage_raw(warehouse, run.run_id)
    transform_run(warehouse, run, chunk_size=200)
    checked = validate_run(warehouse, run, chunk_size=200)
    # A retried chunk replaces its results instead of adding to them.
    validate_chunk(warehouse, run, list_chunks(warehouse, run, 200)[0])
    with warehouse.connect() as conn:
        rejects = conn.execute(
            text("SELECT COUNT(*) FROM books.stg_rejects WHERE run_id = :r"), {"r": run.run_id}
        ).scalar()
    assert rejects, "the generator's messy records give rejects"

    rows = load_dashboard(warehouse, limit=500).quality
    assert rows and {r.run_id for r in rows} == {run.run_id}
    per_check = Counter((r.module, r.chunk, r.frame, r.expectation, r.column) for r in rows)
    assert max(per_check.values()) == 1, "a retried chunk's results are not doubled"
    frames = {(r.module, r.chunk, r.frame): r.rows_checked for r in rows}
    assert sum(frames.values()) == checked["checked"]
    assert {f for _, _, f in frames} == {"customers", "contact persons"}
    failed = [r for r in rows if r.failed_rows]
    assert failed and all(not r.success for r in failed)
    assert sum(r.failed_rows for r in rows) >= rejects  # a row may fail several expectations
    assert any(r.expectation == "expect_table_columns_to_match_set" and r.success for r in rows)

    page = render_page(load_dashboard(warehouse), generated_at=datetime.now(UTC))
    assert 'id="quality-table"' in page and "scheduled__quality" in page
    assert 'data-field="failed_rows" class="n">' in page
