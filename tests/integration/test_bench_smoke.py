"""`make bench` in small: 500 records through the whole benchmark on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from crm_books import settings
from crm_books.bench import (
    SECTION_FULL,
    SECTION_INCREMENTAL,
    SECTION_LOAD,
    SECTION_WORKFLOW,
    TOTAL,
    BenchConfig,
    render_markdown,
    run_bench,
    split_records,
)
from crm_books.sandbox.generator import Generator
from crm_books.warehouse import create_warehouse_engine

pytestmark = pytest.mark.slow

RECORDS = 500
SYNC_PHASES = (
    "ensure_schema",
    "check_organization",
    "extract Accounts (thread)",
    "extract Contacts (thread)",
    "transform",
    "validate (GX)",
    "load",
    "apply_deletions",
    "flag_duplicates",
    "finish_run",
    TOTAL,
)


def expected_customers(uri: str) -> int:
    """Accounts plus contacts without an account, as generated, minus the ones the sync rejected."""
    accounts, contacts = split_records(RECORDS)
    gen = Generator(seed=7, accounts=accounts, contacts=contacts, deals=0)
    account_ids = {r["id"] for r in gen.iter_records(settings.ACCOUNTS)}
    individual_ids = {
        r["id"] for r in gen.iter_records(settings.CONTACTS) if not r.get("Account_Name")
    }
    engine = create_warehouse_engine(uri)
    try:
        with engine.connect() as conn:
            rejected = {
                (m, str(i))
                for m, i in conn.execute(
                    text("SELECT DISTINCT module, crm_id FROM books.rejected_records")
                )
            }
    finally:
        engine.dispose()
    return len({i for i in account_ids if (settings.ACCOUNTS, i) not in rejected}) + len(
        {i for i in individual_ids if (settings.CONTACTS, i) not in rejected}
    )


def test_small_bench_reports_every_phase_and_loads_every_customer(
    warehouse_uri: str, tmp_path: Path
) -> None:
    report = run_bench(
        BenchConfig(
            records=RECORDS,
            warehouse=warehouse_uri,
            baseline_records=200,
            workflow_deals=2_000,
            out_dir=tmp_path,
        )
    )

    for section in (SECTION_FULL, SECTION_INCREMENTAL):
        assert [r.phase for r in report.section(section)] == list(SYNC_PHASES)
    full = report.row(SECTION_FULL, TOTAL)
    incremental = report.row(SECTION_INCREMENTAL, TOTAL)
    assert full is not None and incremental is not None
    assert full.records == RECORDS  # every generated record was extracted once
    # 1 % changed (plus the few records generated within the overlap window): far fewer read.
    assert 0 < incremental.records < RECORDS // 10
    baseline = report.row(SECTION_LOAD, "row-by-row upserts (baseline)")
    set_based = report.row(SECTION_LOAD, "set-based load (full sync)")
    assert baseline is not None and baseline.records == 200
    assert set_based is not None and set_based.records > 0
    workflow = report.row(SECTION_WORKFLOW, TOTAL)
    assert workflow is not None and workflow.records == 2_000
    assert all(r.seconds >= 0 and r.peak_rss_mb > 0 for r in report.rows)

    customers = int(report.facts["customers in the warehouse"].replace(",", ""))
    assert customers == expected_customers(warehouse_uri)
    assert customers == int(report.facts["customers after the full sync"].replace(",", ""))

    markdown = render_markdown(report)
    assert "| full sync | **total** | 500 |" in markdown
    assert "incremental 1 % run <= 10 % of the full run" in markdown
    assert "Set-based load vs row-by-row baseline" in markdown
    written = list(tmp_path.glob("bench-500-*.md"))
    assert [p.read_text(encoding="utf-8") for p in written] == [markdown]
