"""`make bench` in small: 500 records through the whole benchmark on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from crm_books import config
from crm_books.warehouse.engine import create_warehouse_engine
from devtools.bench.cli import BenchConfig, run_bench
from devtools.bench.report import (
    SECTION_FULL,
    SECTION_INCREMENTAL,
    SECTION_LOAD,
    SECTION_WORKFLOW,
    TOTAL,
    BenchReport,
    PhaseResult,
    every_kth,
    render_markdown,
    split_records,
    target_checks,
    total_row,
)
from zoho_sandbox.generator import Generator

RECORDS = 500
SYNC_PHASES = (
    "ensure_schema",
    "check_organization",
    # Two processes at once, as Airflow runs the two extract tasks (on SQLite their writes take
    # turns at the write lock).
    "extract Accounts (process)",
    "extract Contacts (process)",
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
    account_ids = {r["id"] for r in gen.iter_records(config.ACCOUNTS)}
    individual_ids = {
        r["id"] for r in gen.iter_records(config.CONTACTS) if not r.get("Account_Name")
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
    return len({i for i in account_ids if (config.ACCOUNTS, i) not in rejected}) + len(
        {i for i in individual_ids if (config.CONTACTS, i) not in rejected}
    )


@pytest.mark.slow
def test_small_bench_reports_every_phase_and_loads_every_customer(
    warehouse_uri: str, tmp_path: Path
) -> None:
    report = run_bench(
        BenchConfig(
            records=RECORDS,
            warehouse=warehouse_uri,
            baseline_records=200,
            workflow_deals=2_000,
            chunk_workers=2,
            chunk_size=100,  # several chunks per module, two at a time
            out_dir=tmp_path,
        )
    )

    for section in (SECTION_FULL, SECTION_INCREMENTAL):
        assert [r.phase for r in report.section(section)] == list(SYNC_PHASES)
    assert report.facts["chunk tasks at a time"] == "2"
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


def report_of(records: int, full: float, incremental: float, workflow: float) -> BenchReport:
    report = BenchReport(records, "PostgreSQL", "threads", datetime(2026, 11, 26, tzinfo=UTC))
    report.rows = [
        PhaseResult(SECTION_FULL, TOTAL, records, full, 1_100.0),
        PhaseResult(SECTION_INCREMENTAL, TOTAL, records // 100, incremental, 1_000.0),
        PhaseResult(SECTION_WORKFLOW, TOTAL, 100_000, workflow, 900.0),
    ]
    return report


def test_targets_at_one_million_say_which_were_missed() -> None:
    report = report_of(1_000_000, full=258.6, incremental=19.1, workflow=9.8)
    assert [met for _, _, met in target_checks(report)] == [False, True, True, True]
    markdown = render_markdown(report)
    assert "| full sync <= 120 s at 1,000,000 records | 258.6 s | **no** |" in markdown
    assert "7.4 % (19.1 s / 258.6 s)" in markdown


def test_below_one_million_the_sync_targets_are_estimated_not_judged() -> None:
    report = report_of(100_000, full=29.4, incremental=4.0, workflow=31.0)
    checks = target_checks(report)
    assert [met for _, _, met in checks] == [None, None, False, False]
    assert "linear estimate at 1,000,000: 294 s" in checks[0][1]


def test_parallel_extracts_count_once_in_the_total() -> None:
    rows = [
        PhaseResult(SECTION_FULL, "extract Accounts (thread)", 40, 3.0, 250.0, "parallel", 1.0),
        PhaseResult(SECTION_FULL, "extract Contacts (thread)", 60, 5.0, 250.0, "parallel", 2.0),
        PhaseResult(SECTION_FULL, "transform", 100, 4.0, 600.0, cpu_seconds=3.5),
    ]
    total = total_row(SECTION_FULL, rows, 100)
    assert (total.seconds, total.peak_rss_mb, total.cpu_seconds) == (9.0, 600.0, 6.5)


def test_one_percent_of_ids_is_spread_over_all_of_them() -> None:
    ids = [f"{i:05d}" for i in range(1_000)]
    chosen = every_kth(ids, 0.01)
    assert len(chosen) == 10
    assert chosen[0] == "00000" and chosen[-1] == "00900"
    assert every_kth(["only"], 0.01) == ["only"]
    assert split_records(1_000_000) == (400_000, 600_000)
