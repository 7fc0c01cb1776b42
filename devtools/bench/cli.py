"""`python -m devtools.bench`: the whole benchmark, its options and its report on stdout."""

from __future__ import annotations

import argparse
import logging
import os
import signal
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import devtools.bench
from crm_books.customers.plan import SyncRun
from crm_books.customers.staging import TRANSFORM_CHUNK
from crm_books.zoho.limiter import DEFAULT_MAX_CONCURRENCY
from devtools.bench.baseline import BASELINE_MAX, run_baseline
from devtools.bench.bounds import ProfileLimits
from devtools.bench.copy_bound import run_copy_bound
from devtools.bench.measure import (
    RssSampler,
    SlowStatements,
    Timer,
    cpu_of,
    load_average,
    peak_rss_of,
)
from devtools.bench.report import (
    POST_EXTRACT,
    POST_EXTRACT_SUM,
    SECTION_FULL,
    SECTION_INCREMENTAL,
    WORKFLOW_DEALS,
    BenchReport,
    render_markdown,
    save_report,
    split_records,
)
from devtools.bench.stack import warehouses
from devtools.bench.sync_run import (
    CHANGE_SPREAD,
    SyncTarget,
    change_records,
    count_customers,
    run_sync,
)
from devtools.bench.usage import sandbox_profile
from devtools.bench.workflow import run_workflow
from zoho_sandbox.generator.ids import id_base
from zoho_sandbox.process import sandbox_process

CHANGED_FRACTION = 0.01
MAX_DEFAULT_WORKERS = 4
# --profile: the sandbox profile each one serves
PROFILES = {"zoho": "zoho", "fast": "default"}
# sandbox knobs the CLI passes through (None: the profile's value)
KNOB_OPTIONS = (
    "latency_ms",
    "jitter_ms",
    "cap",
    "bulk_job_base_seconds",
    "bulk_job_seconds_per_record",
)


def default_workers() -> int:
    """Chunks at a time: the usable cores (at most 4), as many as a worker's task slots would be."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS))


@dataclass(frozen=True)
class BenchConfig:
    """What one benchmark run does.

    :param records: N CRM records generated (accounts and contacts).
    :param slow_sql_seconds: SQL statements at least this slow are listed in the report.
    :param warehouse: warehouse URI; None starts a throwaway PostgreSQL cluster.
    :param seed: the sandbox generator's seed.
    :param baseline_records: customers upserted row by row (at most N).
    :param workflow_deals: deal changes for the workflow row (0 skips it).
    :param extract_mode: ``processes`` (the DAG's parallel extract tasks, each in its own
        process as Airflow runs them), ``threads`` or ``sequential``.
    :param chunk_workers: mapped chunk tasks run at a time (None: ``default_workers()``).
    :param chunk_size: CRM records per chunk (the DAG's is ``TRANSFORM_CHUNK``).
    :param changed_fraction: share of records changed before the incremental run.
    :param out_dir: where the markdown report is written (None: not written).
    :param profile: ``zoho`` (the sandbox's `zoho` profile: Zoho's latency, caps and limits)
        or ``fast`` (its default profile: no latency, no caps).
    :param knobs: sandbox knobs over the profile's (``{"latency_ms": 20}``); ``cap`` is the
        sandbox's concurrency cap (its ``max_concurrency`` knob).
    :param max_concurrency: the product client's calls in flight (the `zoho_crm` extra).
    """

    records: int
    warehouse: str | None = None
    slow_sql_seconds: float = 0.5
    seed: int = 7
    baseline_records: int = BASELINE_MAX
    workflow_deals: int = WORKFLOW_DEALS
    extract_mode: str = "processes"
    chunk_workers: int | None = None
    chunk_size: int = TRANSFORM_CHUNK
    changed_fraction: float = CHANGED_FRACTION
    out_dir: Path | None = Path("bench-results")
    profile: str = "zoho"
    knobs: Mapping[str, float] = field(default_factory=dict)
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY

    def sandbox_knobs(self) -> dict[str, float]:
        return {("max_concurrency" if k == "cap" else k): v for k, v in self.knobs.items()}


def run_bench(config: BenchConfig) -> BenchReport:
    """Run the whole benchmark; the sandbox process and any throwaway cluster always stop."""
    from crm_books.warehouse.engine import create_warehouse_engine

    started = datetime.now(UTC)
    report = _new_report(config, started)
    slow = SlowStatements(threshold=config.slow_sql_seconds)
    with ExitStack() as stack:
        timer = Timer(report=report, sampler=stack.enter_context(RssSampler()), slow=slow)
        # Imports every worker process pays once (pandas, Great Expectations): not a sync phase.
        with timer.phase("setup", "import pandas + great_expectations"):
            import great_expectations  # noqa: F401

            import crm_books.customers.mapping  # noqa: F401
        with timer.phase("setup", "start warehouse"):
            uri, baseline_uri, report.backend = stack.enter_context(warehouses(config.warehouse))
        with timer.phase("setup", "start sandbox CRM process", config.records):
            accounts, contacts = split_records(config.records)
            base_url, pid = stack.enter_context(
                sandbox_process(
                    accounts,
                    contacts,
                    seed=config.seed,
                    profile=PROFILES[config.profile],
                    knobs=config.sandbox_knobs(),
                )
            )
        limits = ProfileLimits.from_admin(sandbox_profile(base_url), config.max_concurrency)
        report.facts["sandbox profile"] = limits.describe()
        engine = create_warehouse_engine(uri)
        stack.callback(engine.dispose)
        slow.attach(engine)
        workers = config.chunk_workers or default_workers()
        report.facts["chunk tasks at a time"] = str(workers)
        target = SyncTarget(
            engine, uri, base_url, workers, config.extract_mode, config.chunk_size, limits
        )
        _syncs(timer, target, pid, config, started)
        if config.baseline_records > 0:
            limit = min(config.records, config.baseline_records)
            set_based = report.row(SECTION_FULL, "load")
            assert set_based is not None
            run_baseline(timer, engine, baseline_uri, limit, set_based)
        if config.workflow_deals > 0:
            run_workflow(timer, engine, config.workflow_deals)
        report.facts["customers in the warehouse"] = f"{count_customers(engine):,}"
        report.facts["backend"] = report.backend
        report.facts["load average at end"] = load_average()
    report.slow_statements = slow.kept
    if config.out_dir is not None:
        save_report(report, config.out_dir)
    return report


def _new_report(config: BenchConfig, started: datetime) -> BenchReport:
    accounts, contacts = split_records(config.records)
    report = BenchReport(config.records, "", config.extract_mode, started, profile=config.profile)
    report.facts["date"] = f"{started:%Y-%m-%d %H:%M} UTC"
    report.facts["records"] = f"{config.records:,} ({accounts:,} accounts, {contacts:,} contacts)"
    report.facts["machine"] = f"{os.cpu_count()} CPUs, load average at start {load_average()}"
    report.facts["extract tasks"] = {
        "processes": "two processes at once",
        "threads": "two threads at once",
    }.get(config.extract_mode, "one after the other")
    return report


def _syncs(
    timer: Timer, target: SyncTarget, pid: int, config: BenchConfig, started: datetime
) -> None:
    """The full sync, 1 % of the records changed in the CRM, then the incremental sync."""
    facts = timer.report.facts
    full_run = SyncRun(
        run_id=f"bench-full-{started:%Y%m%dT%H%M%S}",
        interval_start=started - timedelta(hours=12),
        interval_end=started,
        full_refresh=True,
    )
    full = _measured_sync(timer, target, pid, full_run, SECTION_FULL, "full", generated_ids(config))
    facts["customers after the full sync"] = f"{count_customers(target.engine):,}"
    _copy_bound(timer, target, full["extracted"])
    changed = change_records(target.base_url, target.engine, config.changed_fraction)
    facts["changed in the CRM before the incremental run"] = ", ".join(
        f"{m} {len(ids):,}" for m, ids in changed.items()
    )
    # The next scheduled run: the 12 hours after the full run's, which the changes were spread
    # over (the sandbox clock is now past their end, as a run starts after its interval).
    incremental_run = SyncRun(
        run_id=f"bench-incr-{started:%Y%m%dT%H%M%S}",
        interval_start=started,
        interval_end=started + CHANGE_SPREAD,
    )
    incremental = _measured_sync(
        timer, target, pid, incremental_run, SECTION_INCREMENTAL, "incremental", changed
    )
    facts["sandbox CRM process peak RSS"] = f"{peak_rss_of(pid):.0f} MB"
    facts["incremental run extracted"] = f"{incremental['extracted']:,}"


def generated_ids(config: BenchConfig) -> dict[str, list[str]]:
    """The ids of every record the sandbox generated, by module (generated record i of a module
    has id ``id_base(module) + i + 1``)."""
    accounts, contacts = split_records(config.records)
    sizes = {"Accounts": accounts, "Contacts": contacts}
    return {m: [str(id_base(m) + i + 1) for i in range(n)] for m, n in sizes.items()}


def _copy_bound(timer: Timer, target: SyncTarget, records: int) -> None:
    """Issue 16's COPY + upsert bound for the full run's records, next to its post-extract rows."""
    report = timer.report
    bound = run_copy_bound(timer, target.engine, records)
    if bound is None:
        report.facts["COPY + upsert bound"] = "not measured (SQLite)"
        return
    report.facts["COPY + upsert bound"] = (
        f"{bound.seconds:.2f} s for {records:,} staged-customer rows (x bound = phase seconds / "
        "these seconds)"
    )
    for phase in (*POST_EXTRACT, POST_EXTRACT_SUM):
        report.update(SECTION_FULL, phase, bound_seconds=bound.seconds, bound_records=bound.records)


def _measured_sync(
    timer: Timer,
    target: SyncTarget,
    pid: int,
    run: SyncRun,
    section: str,
    name: str,
    expected_ids: Mapping[str, list[str]],
) -> dict[str, Any]:
    """run_sync, noting the sandbox CRM process's CPU over it."""
    server_cpu = cpu_of(pid)
    result = run_sync(
        timer,
        target,
        run,
        section=section,
        expected_ids=expected_ids,
        others_allowed=section == SECTION_INCREMENTAL,
    )
    timer.report.facts[f"sandbox CRM process CPU during the {name} sync"] = (
        f"{cpu_of(pid) - server_cpu:.1f} s"
    )
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.bench", description=devtools.bench.__doc__
    )
    parser.add_argument("--records", type=int, default=100_000, help="N CRM records to generate")
    parser.add_argument(
        "--warehouse",
        help="warehouse URI (postgresql://... or sqlite:////path.db; give an empty one); "
        "default: a throwaway PostgreSQL cluster",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--slow-sql",
        type=float,
        default=0.5,
        help="list SQL statements taking at least this many seconds",
    )
    parser.add_argument(
        "--baseline-records",
        type=int,
        default=BASELINE_MAX,
        help="customers upserted row by row for the baseline (0 skips it)",
    )
    parser.add_argument(
        "--workflow-deals",
        type=int,
        default=WORKFLOW_DEALS,
        help="deal changes for the workflow row (0 skips it)",
    )
    parser.add_argument(
        "--extract", choices=("processes", "threads", "sequential"), default="processes"
    )
    parser.add_argument(
        "--chunk-workers",
        type=int,
        help="mapped chunk tasks run at a time (default: the usable cores, at most 4)",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=TRANSFORM_CHUNK, help="CRM records per chunk"
    )
    parser.add_argument("--out-dir", type=Path, default=Path("bench-results"))
    parser.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default="zoho",
        help="zoho: the sandbox's zoho profile (Zoho's latency, concurrency cap, token, credit "
        "and Bulk Read limits); fast: no latency and no caps (the zero-latency run)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=DEFAULT_MAX_CONCURRENCY,
        help="the product client's API calls in flight (the zoho_crm extra)",
    )
    knobs = parser.add_argument_group("sandbox knobs (default: the profile's)")
    knobs.add_argument("--latency-ms", type=float)
    knobs.add_argument("--jitter-ms", type=float)
    knobs.add_argument("--cap", type=int, help="the sandbox's concurrency cap (calls in flight)")
    knobs.add_argument("--bulk-job-base-seconds", type=float)
    knobs.add_argument("--bulk-job-seconds-per-record", type=float)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    config = BenchConfig(
        records=args.records,
        warehouse=args.warehouse,
        slow_sql_seconds=args.slow_sql,
        seed=args.seed,
        baseline_records=args.baseline_records,
        workflow_deals=args.workflow_deals,
        extract_mode=args.extract,
        chunk_workers=args.chunk_workers,
        chunk_size=args.chunk_size,
        out_dir=args.out_dir,
        profile=args.profile,
        knobs={k: getattr(args, k) for k in KNOB_OPTIONS if getattr(args, k) is not None},
        max_concurrency=args.max_concurrency,
    )
    # A kill (SIGTERM) unwinds like Ctrl-C, so the sandbox process and the throwaway cluster stop.
    signal.signal(signal.SIGTERM, _interrupted)
    report = run_bench(config)
    print(render_markdown(report), flush=True)
    return 0


def _interrupted(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")
