"""One crm_books_sync run, step by step as the DAG's tasks, and the CRM changes between runs.

The extracts run in two processes at once as the DAG's two extract tasks do, and the chunk steps
(``transform_chunk``, ``validate_chunk``) over a pool of processes, several chunks at a time, as
an executor runs a mapped task's instances (``devtools.bench.chunk_pool``).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, column, func, select, table

from crm_books import config as crm_config
from crm_books.customers.plan import SyncRun
from crm_books.customers.staging import Chunk
from devtools.bench.bounds import (
    ModuleRead,
    ProfileLimits,
    extract_bound_seconds,
    module_bound_seconds,
)
from devtools.bench.chunk_pool import map_calls, map_chunks
from devtools.bench.measure import Timer
from devtools.bench.report import (
    DERIVED,
    EXTRACT_BOTH,
    BenchReport,
    PhaseResult,
    every_kth,
    peak_vmrss,
    post_extract_row,
    total_row,
)
from devtools.bench.stack import ClientSpec, crm_client, sandbox_admin
from devtools.bench.usage import (
    ModuleUsage,
    check_ids,
    describe_checks,
    extract_timeline,
    reset_usage,
    run_log_usage,
    sandbox_usage,
    staged_ids,
    usage_between,
    usage_columns,
)

log = logging.getLogger("devtools.bench")

ADMIN_BATCH = 5_000
# The incremental run's changes: spread over one schedule interval of CRM time, in 15-minute steps.
CHANGE_SPREAD = timedelta(hours=12)
CHANGE_STEPS = 48


@dataclass(frozen=True)
class SyncTarget:
    """Where a benchmark sync runs.

    :param engine: the warehouse engine of this process.
    :param uri: the warehouse URI, for the worker processes' own engines.
    :param base_url: the sandbox CRM.
    :param workers: chunks (mapped task instances) at a time.
    :param extract_mode: ``processes``, ``threads`` or ``sequential``.
    :param chunk_size: CRM records per chunk.
    :param limits: the sandbox profile's settings (for the bounds) and the client's cap.
    """

    engine: Engine
    uri: str
    base_url: str
    workers: int
    extract_mode: str
    chunk_size: int
    limits: ProfileLimits

    @property
    def client(self) -> ClientSpec:
        return ClientSpec(self.base_url, self.uri, self.limits.client_concurrency)


def run_sync(
    timer: Timer,
    target: SyncTarget,
    run: SyncRun,
    *,
    section: str,
    expected_ids: Mapping[str, Sequence[str]],
    others_allowed: bool = False,
) -> dict[str, Any]:
    """One crm_books_sync run, step by step as the DAG's tasks; returns the load counts.

    The sandbox's usage counters are reset first; each row that calls the CRM gets its credits
    and token grants, and the ids the extract staged are checked against ``expected_ids``."""
    from crm_books.customers.deletions import apply_deletions
    from crm_books.customers.duplicates_flag import flag_duplicates
    from crm_books.customers.load import load_run
    from crm_books.customers.organization import check_organization
    from crm_books.customers.run_log import finish_run
    from crm_books.customers.schema import ensure_schema

    engine, report = target.engine, timer.report
    reset_usage(target.base_url)
    with timer.phase(section, "ensure_schema"):
        ensure_schema(engine)
    with timer.phase(section, "check_organization"):
        check_organization(engine, crm_client(target.client, engine))
    before = sandbox_usage(target.base_url)
    report.update(section, "check_organization", **usage_columns(before))
    extracted = _extract(timer, target, run, section=section)
    slots = target.limits.in_flight
    report.facts[f"extract calls ({section})"] = extract_timeline(target.base_url, slots)
    _extract_usage(
        report, target, run, section, usage_between(before, sandbox_usage(target.base_url))
    )
    report.extra_checks.append(
        _ids_check(engine, run, section, expected_ids, others_allowed=others_allowed)
    )
    with timer.phase(section, "transform", extracted):
        chunks, counts = _transform(target, run)
    with timer.phase(section, "validate (GX)") as t:
        t.records = _validate(target, run, chunks)["checked"]
    with timer.phase(section, "load", extracted) as t:
        loaded = load_run(engine, run)
        t.records = sum(c["inserted"] + c["updated"] + c["unchanged"] for c in loaded.values())
    written = report.rows[-1]
    with timer.phase(section, "apply_deletions", extracted):
        apply_deletions(engine, run)
    with timer.phase(section, "flag_duplicates", count_customers(engine)):
        flag_duplicates(engine, run)
    with timer.phase(section, "finish_run", extracted):
        finish_run(engine, run)
    rows = report.section(section)
    used = sandbox_usage(target.base_url)
    total = total_row(section, rows, extracted)
    report.rows.append(replace(total, credits=used["credits_used"], grants=used["token_grants"]))
    report.rows.append(post_extract_row(section, rows, extracted))
    report.facts[f"peak API calls in flight ({section})"] = str(used["peak_in_flight"])
    return {"transformed": counts, "loaded": loaded, "load_row": written, "extracted": extracted}


def _extract_usage(
    report: BenchReport, target: SyncTarget, run: SyncRun, section: str, used: Counter[str]
) -> None:
    """Credits, grants and bounds of the extract rows: per module from books.sync_runs (Bulk Read
    when it created jobs), for both modules from the sandbox's counters over the extract."""
    logged = run_log_usage(target.engine, run.run_id)
    for row in [r for r in report.section(section) if r.phase.startswith("extract ")]:
        read = module_read(row, logged, used["bulk_jobs"])
        usage = logged.get(read.module)
        report.update(
            section,
            row.phase,
            bound_seconds=module_bound_seconds(target.limits, read),
            credits=None if usage is None else usage.api_credits,
        )
    extracts = [r for r in report.section(section) if r.phase.startswith("extract ")]
    reads = [module_read(r, logged, used["bulk_jobs"]) for r in extracts]
    seconds = [r.seconds for r in extracts]
    parallel = target.extract_mode != "sequential"
    both = PhaseResult(
        section,
        EXTRACT_BOTH,
        sum(r.records for r in reads),
        max(seconds, default=0.0) if parallel else sum(seconds),
        max((r.peak_rss_mb for r in report.section(section)), default=0.0),
        DERIVED,
        sum(r.cpu_seconds for r in extracts),
        bound_seconds=extract_bound_seconds(target.limits, reads, parallel=parallel),
        peak_vmrss_mb=peak_vmrss(report.section(section)),
        **usage_columns(used),
    )
    report.rows.append(both)
    bulk_modules = [r.module for r in reads if r.bulk]
    report.facts[f"extract model ({section})"] = (
        f"Bulk Read for {', '.join(bulk_modules)}" if bulk_modules else "REST for every module"
    ) + f"; {used['bulk_jobs']} Bulk Read jobs in the sandbox's count"


def module_read(
    row: PhaseResult, logged: Mapping[str, ModuleUsage], sandbox_bulk_jobs: int
) -> ModuleRead:
    """What an extract row's module read, and how: Bulk Read when its books.sync_runs row
    counts Bulk Read jobs; with no run-log row, when the sandbox counted any over the extract."""
    module = row.phase.split()[1]
    usage = logged.get(module)
    bulk = usage.bulk_jobs > 0 if usage is not None else sandbox_bulk_jobs > 0
    return ModuleRead(module, row.records, bulk)


def _ids_check(
    engine: Engine,
    run: SyncRun,
    section: str,
    expected: Mapping[str, Sequence[str]],
    *,
    others_allowed: bool,
) -> tuple[str, str, bool | None]:
    """Every record exactly once: the ids the extract staged against those expected."""
    checks = []
    others: dict[str, int] = {}
    for module in run.modules:
        read = staged_ids(engine, run.run_id, module)
        wanted = expected.get(module, ())
        checks.append(check_ids(module, read, wanted, others_allowed=others_allowed))
        others[module] = len(set(read) - set(wanted))
    line = describe_checks(checks, others=others if others_allowed else None)
    which = "changed" if others_allowed else "generated"
    target = f"every {which} record read exactly once ({section}, by ids)"
    return target, line, all(c.exact for c in checks)


def _transform(target: SyncTarget, run: SyncRun) -> tuple[list[Chunk], dict[str, int]]:
    """list_chunks, transform_chunk mapped over the chunks, transform_records; the chunks too."""
    from crm_books.customers.staging import list_chunks
    from crm_books.customers.transform import transformed

    chunks = list_chunks(target.engine, run, target.chunk_size)
    counts = transformed(map_chunks(target.uri, "transform", run, chunks, workers=target.workers))
    return chunks, counts


def _validate(target: SyncTarget, run: SyncRun, chunks: list[Chunk]) -> dict[str, int]:
    """validate_chunk mapped over the transform's chunks (the DAG maps both tasks over the one
    list_chunks result), then validate_records (the gate's verdict)."""
    from crm_books.customers.validate import gate

    results = map_chunks(target.uri, "validate", run, chunks, workers=target.workers)
    return gate(target.engine, run, results)


def _extract(timer: Timer, target: SyncTarget, run: SyncRun, *, section: str) -> int:
    """The two extract tasks: at once in two processes or threads, or one after the other."""
    spec = target.client
    if target.extract_mode == "sequential":
        total = 0
        for module in run.modules:
            with timer.phase(section, f"extract {module}") as t:
                t.records = _extract_one(target.engine, spec, run, module)[1]
                total += t.records
        return total
    # Both modules at once, as the DAG's two extract tasks run; the RSS peak is the shared one.
    timer.sampler.reset()
    jobs = [(spec, run, module) for module in run.modules]
    if target.extract_mode == "processes":
        label = "process"
        results = map_calls(target.uri, _extract_one, jobs)
    else:
        label = "thread"
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            results = list(pool.map(lambda job: _extract_one(target.engine, *job), jobs))
    peak = timer.sampler.peak()
    for module, records, seconds, cpu in results:
        phase = f"extract {module} ({label})"
        row = PhaseResult(
            section, phase, records, seconds, peak.mb, "parallel", cpu, peak_vmrss_mb=peak.rss
        )
        timer.report.rows.append(row)
        log.info("[%s] %s: %d records in %.2f s", section, row.phase, records, seconds)
    return sum(r[1] for r in results)


def _extract_one(
    engine: Engine, spec: ClientSpec, run: SyncRun, module: str
) -> tuple[str, int, float, float]:
    """One extract task: (module, records, wall s, CPU s of its process, or of its thread when it
    runs in this one)."""
    from crm_books.customers.extract import extract_module

    clock = time.process_time if multiprocessing.parent_process() else time.thread_time
    started, cpu = time.perf_counter(), clock()
    client = crm_client(spec, engine)
    result = extract_module(engine, client, run, module)
    return module, int(result["extracted"]), time.perf_counter() - started, clock() - cpu


def count_customers(engine: Engine) -> int:
    """Customers in the warehouse."""
    customers = table("customers", column("customer_id"), schema=crm_config.SCHEMA)
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(customers)).scalar_one())


def change_records(
    base_url: str,
    engine: Engine,
    fraction: float,
    *,
    spread: timedelta = CHANGE_SPREAD,
    steps: int = CHANGE_STEPS,
) -> dict[str, list[str]]:
    """Change ``fraction`` of the CRM records through the sandbox's admin API, spread evenly over
    the next ``spread`` of CRM time, as people's edits spread over a scheduled interval: the
    sandbox clock moves on ``spread / steps`` at a time, and a share of the changes is made at
    each step. Returns the ids changed, by module."""
    keys = {
        crm_config.ACCOUNTS: crm_ids(engine, "customers", "crm_account_id"),
        crm_config.CONTACTS: sorted(
            {
                *crm_ids(engine, "customers", "crm_contact_id"),
                *crm_ids(engine, "contact_persons", "crm_contact_id"),
            }
        ),
    }
    changed = {module: every_kth(ids, fraction) for module, ids in keys.items()}
    return spread_changes(base_url, changed, spread=spread, steps=steps)


def spread_changes(
    base_url: str,
    changed: dict[str, list[str]],
    *,
    spread: timedelta = CHANGE_SPREAD,
    steps: int = CHANGE_STEPS,
) -> dict[str, list[str]]:
    """Change the records ``changed`` names (ids by module) over the next ``spread`` of CRM time
    in ``steps`` clock steps (see change_records); returns ``changed``."""
    stamp = datetime.now(UTC).strftime("%H%M%S")
    for step in range(steps):
        sandbox_admin(base_url, "clock", {"advance_seconds": spread.total_seconds() / steps})
        for module, ids in changed.items():
            field_name = "Phone" if module == crm_config.ACCOUNTS else "Mobile"
            part = ids[step::steps]
            for i in range(0, len(part), ADMIN_BATCH):
                batch = [
                    {"id": rid, field_name: f"+1 555 {stamp}{n % 10}"}
                    for n, rid in enumerate(part[i : i + ADMIN_BATCH])
                ]
                sandbox_admin(base_url, f"records/{module}", batch)
    log.info(
        "changed %s records in the sandbox CRM over %s of CRM time",
        {m: len(i) for m, i in changed.items()},
        spread,
    )
    return changed


def crm_ids(engine: Engine, table_name: str, key: str) -> list[str]:
    t = table(table_name, column(key), schema=crm_config.SCHEMA)
    with engine.connect() as conn:
        rows = conn.execute(select(t.c[key]).where(t.c[key].is_not(None)).order_by(t.c[key]))
        return [str(r[0]) for r in rows]
