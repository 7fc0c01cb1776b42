"""`make bench`: a timed full and 1 %-incremental crm_books_sync, a row-by-row baseline and the workflow.

The sandbox CRM runs in its own process and is read over loopback HTTP; the sync's step functions
(``crm_books.customers``) run in this process, one after another as the DAG's tasks would, with the two
extract tasks in two forked processes at once (``--extract processes``: Airflow runs each task in
its own process, and the DAG runs these two in parallel), in two threads (``--extract threads``)
or one after the other (``--extract sequential``). On PostgreSQL the transform and the quality gate
fork their chunk workers (``crm_books.customers.chunk_workers``). Each phase reports wall seconds, records/s,
CPU seconds and the peak resident memory of this process plus its forked workers during the phase
(a sampling thread reads VmRSS).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, column, func, select, table

from crm_books import config as crm_config
from crm_books.customers.columns import CUSTOMER_COLUMNS
from zoho_sandbox.process import sandbox_process

log = logging.getLogger("devtools.bench")

ACCOUNT_SHARE = 0.4  # of N records; the rest are contacts
CHANGED_FRACTION = 0.01
BASELINE_MAX = 20_000
WORKFLOW_DEALS = 100_000
BASELINE_COMMIT_EVERY = 1_000
ADMIN_BATCH = 5_000

# Issue 4 and issue 5 targets (the sync targets are stated for 1,000,000 records).
TARGET_RECORDS = 1_000_000
TARGET_FULL_SECONDS = 120.0
TARGET_RSS_MB = 1536.0
TARGET_INCREMENTAL_PERCENT = 10.0
TARGET_WORKFLOW_SECONDS = 30.0

SECTION_FULL = "full sync"
SECTION_INCREMENTAL = "incremental 1 %"
SECTION_LOAD = "load: baseline vs set-based"
SECTION_WORKFLOW = "workflow"
TOTAL = "total"


# -- results (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseResult:
    """One row of the report."""

    section: str
    phase: str
    records: int
    seconds: float
    peak_rss_mb: float
    note: str = ""
    cpu_seconds: float = 0.0  # of this process (of its thread, for the parallel extract rows)

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


@dataclass
class BenchReport:
    """Everything one benchmark run measured, plus where and under what load it ran."""

    records: int
    backend: str
    extract_mode: str
    started_at: datetime
    rows: list[PhaseResult] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    slow_statements: list[tuple[str, str, float]] = field(default_factory=list)

    def row(self, section: str, phase: str) -> PhaseResult | None:
        return next((r for r in self.rows if r.section == section and r.phase == phase), None)

    def section(self, name: str) -> list[PhaseResult]:
        return [r for r in self.rows if r.section == name]


def split_records(total: int, account_share: float = ACCOUNT_SHARE) -> tuple[int, int]:
    """N records as (accounts, contacts)."""
    accounts = round(total * account_share)
    return accounts, total - accounts


def every_kth(ids: Sequence[str], fraction: float) -> list[str]:
    """A deterministic, evenly spread ``fraction`` of ``ids`` (at least one when there are any)."""
    if not ids or fraction <= 0:
        return []
    step = max(1, round(1 / fraction))
    return list(ids[::step])


def total_row(section: str, rows: Sequence[PhaseResult], records: int) -> PhaseResult:
    """The sum of a section's phases (the two threaded extracts overlap, so count their wall
    time once: the rows marked as parallel contribute their longest)."""
    parallel = [r.seconds for r in rows if r.note == "parallel"]
    serial = [r.seconds for r in rows if r.note != "parallel"]
    seconds = sum(serial) + (max(parallel) if parallel else 0.0)
    peak = max((r.peak_rss_mb for r in rows), default=0.0)
    cpu = sum(r.cpu_seconds for r in rows)
    return PhaseResult(section, TOTAL, records, seconds, peak, cpu_seconds=cpu)


def target_checks(report: BenchReport) -> list[tuple[str, str, bool | None]]:
    """(target, what was measured, met?) for each target; None when this run cannot tell."""
    checks: list[tuple[str, str, bool | None]] = []
    full = report.row(SECTION_FULL, TOTAL)
    incremental = report.row(SECTION_INCREMENTAL, TOTAL)
    if full is not None:
        scaled = full.seconds * TARGET_RECORDS / max(report.records, 1)
        if report.records >= TARGET_RECORDS:
            checks.append(
                (
                    f"full sync <= {TARGET_FULL_SECONDS:.0f} s at {TARGET_RECORDS:,} records",
                    f"{full.seconds:.1f} s",
                    full.seconds <= TARGET_FULL_SECONDS,
                )
            )
        else:
            checks.append(
                (
                    f"full sync <= {TARGET_FULL_SECONDS:.0f} s at {TARGET_RECORDS:,} records",
                    f"{full.seconds:.1f} s at {report.records:,}; linear estimate at "
                    f"{TARGET_RECORDS:,}: {scaled:.0f} s (run N={TARGET_RECORDS} to know)",
                    None,
                )
            )
        syncs = report.section(SECTION_FULL) + report.section(SECTION_INCREMENTAL)
        peak = max(r.peak_rss_mb for r in syncs)
        checks.append(
            (
                f"sync peak RSS <= {TARGET_RSS_MB:.0f} MB"
                + ("" if report.records >= TARGET_RECORDS else f" (at {TARGET_RECORDS:,})"),
                f"{peak:.0f} MB at {report.records:,}",
                peak <= TARGET_RSS_MB if report.records >= TARGET_RECORDS else None,
            )
        )
    if full is not None and incremental is not None and full.seconds > 0:
        percent = 100 * incremental.seconds / full.seconds
        checks.append(
            (
                f"incremental 1 % run <= {TARGET_INCREMENTAL_PERCENT:.0f} % of the full run",
                f"{percent:.1f} % ({incremental.seconds:.1f} s / {full.seconds:.1f} s)",
                percent <= TARGET_INCREMENTAL_PERCENT,
            )
        )
    workflow = report.row(SECTION_WORKFLOW, TOTAL)
    if workflow is not None:
        checks.append(
            (
                f"{WORKFLOW_DEALS:,} deal changes planned and applied <= "
                f"{TARGET_WORKFLOW_SECONDS:.0f} s",
                f"{workflow.records:,} in {workflow.seconds:.1f} s",
                workflow.seconds <= TARGET_WORKFLOW_SECONDS
                if workflow.records >= WORKFLOW_DEALS
                else None,
            )
        )
    return checks


def render_markdown(report: BenchReport) -> str:
    """The report as markdown: facts, the phase table, the load comparison and the targets."""
    lines = [
        f"# crm_books benchmark, N = {report.records:,}",
        "",
        *(f"- {k}: {v}" for k, v in report.facts.items()),
        "",
        "| section | phase | records | seconds | records/s | peak RSS MB | CPU s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in report.rows:
        phase = f"**{r.phase}**" if r.phase == TOTAL else r.phase
        lines.append(
            f"| {r.section} | {phase} | {r.records:,} | {r.seconds:.2f} | {r.per_second:,.0f} "
            f"| {r.peak_rss_mb:,.0f} | {r.cpu_seconds:.1f} |"
        )
    baseline = report.row(SECTION_LOAD, "row-by-row upserts (baseline)")
    set_based = report.row(SECTION_LOAD, "set-based load (full sync)")
    if baseline is not None and set_based is not None and baseline.per_second > 0:
        lines += [
            "",
            f"Set-based load vs row-by-row baseline: {set_based.per_second:,.0f} vs "
            f"{baseline.per_second:,.0f} records/s = **{set_based.per_second / baseline.per_second:.1f}x**",
        ]
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for target, measured, met in target_checks(report):
        verdict = "n/a" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {target} | {measured} | {verdict} |")
    if report.slow_statements:
        lines += [
            "",
            "Slowest SQL statements:",
            "",
            "| phase | statement | seconds |",
            "|---|---|---:|",
        ]
        for phase, name, seconds in sorted(report.slow_statements, key=lambda x: -x[2])[:15]:
            lines.append(f"| {phase} | `{name}` | {seconds:.2f} |")
    return "\n".join(lines) + "\n"


# -- measuring -----------------------------------------------------------------------------------


def _rss_mb() -> float:
    """Resident memory of this process plus its forked chunk workers (crm_books.customers.chunk_workers)."""
    try:
        return (
            _status_rss_kb("self") / 1024
            + sum(_status_rss_kb(str(pid)) for pid in _worker_pids()) / 1024
        )
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_rss_kb(pid: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _worker_pids() -> list[int]:
    """Children running this same command line: forked workers, not the sandbox CRM process."""
    own = Path("/proc/self/cmdline").read_bytes()
    pids: list[int] = []
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes() == own:
                    pids.append(int(pid))
            except OSError:  # it exited meanwhile
                continue
    return pids


def _cpu_seconds() -> float:
    """CPU of this process and of its children that have exited (the chunk workers of a phase)."""
    times = os.times()
    return time.process_time() + times.children_user + times.children_system


class RssSampler:
    """Samples this process's resident memory in a thread; ``reset`` starts a new phase's peak.

    :param interval: seconds between samples.
    """

    def __init__(self, *, interval: float = 0.02) -> None:
        self.interval = interval
        self._peak = _rss_mb()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._observe()

    def _observe(self) -> float:
        now = _rss_mb()
        with self._lock:
            self._peak = max(self._peak, now)
            return self._peak

    def reset(self) -> None:
        with self._lock:
            self._peak = _rss_mb()

    def peak_mb(self) -> float:
        return self._observe()


@dataclass
class Tally:
    """Records a phase handled; set inside the ``Timer.phase`` block."""

    records: int = 0


class Timer:
    """Times phases into a report, with their peak RSS.

    :param report: the report rows are appended to.
    :param sampler: the running RSS sampler.
    """

    def __init__(
        self, *, report: BenchReport, sampler: RssSampler, slow: SlowStatements | None = None
    ) -> None:
        self.report = report
        self.sampler = sampler
        self.slow = slow

    @contextmanager
    def phase(self, section: str, phase: str, records: int = 0, note: str = "") -> Iterator[Tally]:
        tally = Tally(records)
        if self.slow is not None:
            self.slow.phase = f"{section}: {phase}"
        self.sampler.reset()
        log.info("[%s] %s ...", section, phase)
        started, cpu = time.perf_counter(), _cpu_seconds()
        yield tally
        seconds = time.perf_counter() - started
        peak = self.sampler.peak_mb()
        row = PhaseResult(section, phase, tally.records, seconds, peak, note, _cpu_seconds() - cpu)
        self.report.rows.append(row)
        log.info(
            "[%s] %s: %d records in %.2f s (%.0f records/s), peak RSS %.0f MB",
            section,
            phase,
            row.records,
            row.seconds,
            row.per_second,
            row.peak_rss_mb,
        )


class SlowStatements:
    """Times every SQL statement on an engine and keeps those slower than ``threshold`` seconds,
    named by their include/sql file, so the report can say where a slow phase spends its time.

    :param threshold: seconds a statement must take to be kept.
    """

    def __init__(self, *, threshold: float) -> None:
        self.threshold = threshold
        self.phase = ""
        self.kept: list[tuple[str, str, float]] = []
        self._names = _statement_names()

    def attach(self, engine: Engine) -> None:
        from sqlalchemy import event

        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, _cursor: Any, *_args: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seconds = time.perf_counter() - conn.info["bench_started"].pop()
        if seconds >= self.threshold:
            name = self._names.get(_squash(statement), _squash(statement)[:70])
            self.kept.append((self.phase, name, seconds))


_BIND = re.compile(r"%\(\w+\)s|(?<![:\w]):\w+|\?")


def _squash(statement: str) -> str:
    """One form for a file's statement and the driver's: whitespace collapsed, binds as ``?``,
    and psycopg's escaped ``%%`` (the modulo operator) back to ``%``."""
    return _BIND.sub("?", " ".join(statement.split())).replace("%%", "%")


def _statement_names() -> dict[str, str]:
    """Each statement of each include/sql file (as run_sql sends it) -> "<area>/<file>"."""
    from crm_books.warehouse.sql_files import split_statements

    names: dict[str, str] = {}
    for path in crm_config.SQL_DIR.glob("*/*.sql"):
        name = f"{path.parent.name}/{path.name.split('.')[0]}"
        for n, statement in enumerate(split_statements(path.read_text(encoding="utf-8"))):
            names[_squash(statement)] = name if n == 0 else f"{name} #{n + 1}"
    return names


# -- the sandbox and the warehouses ----------------------------------------------------------------


def sandbox_admin(base: str, path: str, payload: Any) -> Any:
    """POST to the sandbox's admin API (``/__sandbox/...``)."""
    resp = requests.post(f"{base}/__sandbox/{path}", json=payload, timeout=300)
    resp.raise_for_status()
    return resp.json()


def crm_client(base: str) -> Any:
    """A CRM client for the sandbox (its fixed OAuth client)."""
    from crm_books.zoho.auth import CrmCredentials
    from crm_books.zoho.client import ZohoCrmClient
    from zoho_sandbox.server import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN

    credentials = CrmCredentials(
        api_base_url=base,
        accounts_url=base,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
    )
    return ZohoCrmClient(credentials)


def _peak_rss_of(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _create_pg_database(server_uri: str, name: str) -> str:
    """Create (after dropping) a database next to ``server_uri``'s; returns its URI."""
    import psycopg
    from psycopg import sql as pgsql
    from sqlalchemy import make_url

    url = make_url(server_uri.replace("postgres://", "postgresql://", 1))
    plain = url.set(drivername="postgresql")
    with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {}").format(pgsql.Identifier(name)))
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    return plain.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(server_uri: str, name: str) -> None:
    import psycopg
    from psycopg import sql as pgsql
    from sqlalchemy import make_url

    url = make_url(server_uri.replace("postgres://", "postgresql://", 1)).set(
        drivername="postgresql"
    )
    try:
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(
                pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
            )
    except psycopg.Error as exc:
        log.warning("could not drop the baseline database %s: %s", name, exc)


@contextmanager
def warehouses(uri: str | None) -> Iterator[tuple[str, str, str]]:
    """(warehouse URI, baseline warehouse URI, backend description) for one benchmark.

    No URI: a throwaway PostgreSQL cluster with two fresh databases, stopped afterwards. A
    PostgreSQL URI: that database, plus a scratch baseline database on the same server (dropped
    afterwards). A SQLite URI: that file, plus a ``.baseline.db`` file next to it.
    """
    if uri is None:
        from devtools.pg_throwaway import start_cluster

        cluster = start_cluster()
        try:
            main = _create_pg_database(cluster.admin_uri, "books_bench")
            baseline = _create_pg_database(cluster.admin_uri, "books_bench_baseline")
            yield main, baseline, f"PostgreSQL (throwaway cluster, {cluster.bindir})"
        finally:
            cluster.stop()
        return
    if uri.startswith("sqlite:"):
        path = Path(uri.split(":///", 1)[1])
        baseline_path = path.with_suffix(".baseline.db")
        for p in (baseline_path, Path(f"{baseline_path}-wal"), Path(f"{baseline_path}-shm")):
            p.unlink(missing_ok=True)
        try:
            yield uri, f"sqlite:///{baseline_path}", "SQLite"
        finally:
            baseline_path.unlink(missing_ok=True)
        return
    name = f"books_bench_baseline_{os.getpid()}"
    baseline = _create_pg_database(uri, name)
    try:
        yield uri, baseline, "PostgreSQL"
    finally:
        _drop_pg_database(uri, name)


# -- the benchmark phases --------------------------------------------------------------------------


def run_sync(
    timer: Timer,
    engine: Engine,
    base_url: str,
    run: Any,
    *,
    section: str,
    mode: str,
) -> dict[str, Any]:
    """One crm_books_sync run, step by step as the DAG's tasks; returns the load counts."""
    from crm_books.customers.deletions import apply_deletions
    from crm_books.customers.duplicates_flag import flag_duplicates
    from crm_books.customers.load import load_run
    from crm_books.customers.organization import check_organization
    from crm_books.customers.run_log import finish_run
    from crm_books.customers.schema import ensure_schema
    from crm_books.customers.transform import transform_run
    from crm_books.customers.validate import validate_run

    with timer.phase(section, "ensure_schema"):
        ensure_schema(engine)
    with timer.phase(section, "check_organization"):
        check_organization(engine, crm_client(base_url))
    extracted = _extract(
        timer,
        engine,
        base_url,
        run,
        section=section,
        mode=mode,
    )
    with timer.phase(section, "transform", extracted) as t:
        counts = transform_run(engine, run)
        t.records = extracted
    with timer.phase(section, "validate (GX)") as t:
        t.records = validate_run(engine, run)["checked"]
    with timer.phase(section, "load", extracted) as t:
        loaded = load_run(engine, run)
        t.records = sum(c["inserted"] + c["updated"] + c["unchanged"] for c in loaded.values())
    written = timer.report.rows[-1]
    with timer.phase(section, "apply_deletions", extracted):
        apply_deletions(engine, run)
    with timer.phase(section, "flag_duplicates", count_customers(engine)):
        flag_duplicates(engine, run)
    with timer.phase(section, "finish_run", extracted):
        finish_run(engine, run)
    rows = timer.report.section(section)
    timer.report.rows.append(total_row(section, rows, extracted))
    return {"transformed": counts, "loaded": loaded, "load_row": written, "extracted": extracted}


def _extract(
    timer: Timer,
    engine: Engine,
    base_url: str,
    run: Any,
    *,
    section: str,
    mode: str,
) -> int:
    from crm_books.customers.extract import extract_module

    def one(module: str) -> tuple[str, int, float, float]:
        started, cpu = time.perf_counter(), time.thread_time()
        client = crm_client(base_url)
        result = extract_module(engine, client, run, module)
        seconds = time.perf_counter() - started
        return module, int(result["extracted"]), seconds, time.thread_time() - cpu

    if mode == "sequential":
        total = 0
        for module in run.modules:
            with timer.phase(section, f"extract {module}") as t:
                t.records = one(module)[1]
                total += t.records
        return total
    # Both modules at once, as the DAG's two extract tasks run; the RSS peak is the shared one.
    timer.sampler.reset()
    if mode == "processes":
        from crm_books.customers.chunk_workers import effective_workers, map_chunks

        jobs = [(base_url, run, module) for module in run.modules]
        label = "process" if effective_workers(engine, len(jobs), len(jobs)) > 1 else "in turn"
        results = list(map_chunks(engine, _extract_one, jobs, workers=len(jobs)))
    else:
        label = "thread"
        with ThreadPoolExecutor(max_workers=len(run.modules)) as pool:
            results = list(pool.map(one, run.modules))
    peak = timer.sampler.peak_mb()
    note = "" if label == "in turn" else "parallel"
    for module, records, seconds, cpu in results:
        row = PhaseResult(section, f"extract {module} ({label})", records, seconds, peak, note, cpu)
        timer.report.rows.append(row)
        log.info("[%s] %s: %d records in %.2f s", section, row.phase, records, seconds)
    return sum(r[1] for r in results)


def _extract_one(
    engine: Engine, base_url: str, run: Any, module: str
) -> tuple[str, int, float, float]:
    """One extract task in its own process, as Airflow runs each task: (module, records, wall s,
    CPU s of that process)."""
    from crm_books.customers.extract import extract_module

    started, cpu = time.perf_counter(), time.process_time()
    result = extract_module(engine, crm_client(base_url), run, module)
    return (
        module,
        int(result["extracted"]),
        time.perf_counter() - started,
        time.process_time() - cpu,
    )


def count_customers(engine: Engine) -> int:
    """Customers in the warehouse."""
    customers = table("customers", column("customer_id"), schema=crm_config.SCHEMA)
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(customers)).scalar_one())


def change_records(base_url: str, engine: Engine, fraction: float) -> dict[str, int]:
    """Change ``fraction`` of the CRM records through the sandbox's admin API, an hour later."""
    sandbox_admin(base_url, "clock", {"advance_seconds": 3600})
    keys = {
        crm_config.ACCOUNTS: _crm_ids(engine, "customers", "crm_account_id"),
        crm_config.CONTACTS: sorted(
            {
                *_crm_ids(engine, "customers", "crm_contact_id"),
                *_crm_ids(engine, "contact_persons", "crm_contact_id"),
            }
        ),
    }
    stamp = datetime.now(UTC).strftime("%H%M%S")
    changed: dict[str, int] = {}
    for module, ids in keys.items():
        chosen = every_kth(ids, fraction)
        field_name = "Phone" if module == crm_config.ACCOUNTS else "Mobile"
        for i in range(0, len(chosen), ADMIN_BATCH):
            batch = [
                {"id": rid, field_name: f"+1 555 {stamp}{n % 10}"}
                for n, rid in enumerate(chosen[i : i + ADMIN_BATCH])
            ]
            sandbox_admin(base_url, f"records/{module}", batch)
        changed[module] = len(chosen)
    log.info("changed %s records in the sandbox CRM", changed)
    return changed


def _crm_ids(engine: Engine, table_name: str, key: str) -> list[str]:
    t = table(table_name, column(key), schema=crm_config.SCHEMA)
    with engine.connect() as conn:
        rows = conn.execute(select(t.c[key]).where(t.c[key].is_not(None)).order_by(t.c[key]))
        return [str(r[0]) for r in rows]


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


def deal_records(
    account_ids: Sequence[str], contact_ids: Sequence[str], n: int
) -> list[dict[str, Any]]:
    """``n`` Zoho Deal records for the workflow benchmark: mostly for known accounts, some for
    individual contacts, one in twenty for an account not in Books (they wait as pending)."""
    stages = ("Qualification", "Closed Won", "Needs Analysis", "Closed Lost")
    modified = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds")
    out = []
    for i in range(n):
        record: dict[str, Any] = {
            "id": str(9_000_000_000 + i),
            "Deal_Name": f"Bench deal {i}",
            "Amount": float(100 + i % 9_000),
            "Stage": stages[i % len(stages)],
            "Account_Name": None,
            "Contact_Name": None,
            "Closing_Date": None,
            "Modified_Time": modified,
        }
        if i % 20 == 19 or not (account_ids or contact_ids):
            record["Account_Name"] = {"id": f"missing-{i}", "name": "Not in Books"}
        elif i % 5 == 4 and contact_ids:
            record["Contact_Name"] = {"id": contact_ids[i % len(contact_ids)], "name": "Someone"}
        elif account_ids:
            record["Account_Name"] = {"id": account_ids[i % len(account_ids)], "name": "Acme"}
        else:
            record["Contact_Name"] = {"id": contact_ids[i % len(contact_ids)], "name": "Someone"}
        out.append(record)
    return out


def run_workflow(timer: Timer, engine: Engine, deals: int) -> dict[str, int]:
    """``deals`` deal changes planned and applied (estimate workflow) in one transaction."""
    from crm_books.deals.rules import deal_changes_frame, plan_transitions
    from crm_books.deals.store import apply_plan, load_state

    records = deal_records(
        _crm_ids(engine, "customers", "crm_account_id"),
        _crm_ids(engine, "customers", "crm_contact_id"),
        deals,
    )
    with timer.phase(SECTION_WORKFLOW, "deal_changes_frame", deals):
        changes = deal_changes_frame(records)
    del records
    with engine.begin() as conn:
        with timer.phase(SECTION_WORKFLOW, "load_state", deals):
            known, documents, customers = load_state(conn, changes["crm_deal_id"].tolist())
        with timer.phase(SECTION_WORKFLOW, "plan_transitions", deals):
            plan = plan_transitions(
                changes, known, documents, customers, workflow="estimate", today=date.today()
            )
        with timer.phase(SECTION_WORKFLOW, "apply_plan", deals):
            counts = apply_plan(
                conn, plan, run_id=f"bench-{uuid.uuid4().hex[:8]}", workflow="estimate"
            )
    timer.report.rows.append(
        total_row(SECTION_WORKFLOW, timer.report.section(SECTION_WORKFLOW), deals)
    )
    log.info("workflow: %s", counts)
    return counts


# -- the whole benchmark ---------------------------------------------------------------------------


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
    :param changed_fraction: share of records changed before the incremental run.
    :param out_dir: where the markdown report is written (None: not written).
    """

    records: int
    warehouse: str | None = None
    slow_sql_seconds: float = 0.5
    seed: int = 7
    baseline_records: int = BASELINE_MAX
    workflow_deals: int = WORKFLOW_DEALS
    extract_mode: str = "processes"
    changed_fraction: float = CHANGED_FRACTION
    out_dir: Path | None = Path("bench-results")


def run_bench(config: BenchConfig) -> BenchReport:
    """Run the whole benchmark; the sandbox process and any throwaway cluster always stop."""
    from crm_books.customers.plan import SyncRun
    from crm_books.warehouse.engine import create_warehouse_engine

    started = datetime.now(UTC)
    accounts, contacts = split_records(config.records)
    report = BenchReport(config.records, "", config.extract_mode, started)
    report.facts["date"] = f"{started:%Y-%m-%d %H:%M} UTC"
    report.facts["records"] = f"{config.records:,} ({accounts:,} accounts, {contacts:,} contacts)"
    report.facts["machine"] = f"{os.cpu_count()} CPUs, load average at start {_load()}"
    extract = {"processes": "two processes at once", "threads": "two threads at once"}.get(
        config.extract_mode, "one after the other"
    )
    report.facts["extract tasks"] = extract
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
            base_url, pid = stack.enter_context(
                sandbox_process(accounts, contacts, seed=config.seed)
            )
        engine = create_warehouse_engine(uri)
        stack.callback(engine.dispose)
        slow.attach(engine)

        full_run = SyncRun(
            run_id=f"bench-full-{started:%Y%m%dT%H%M%S}",
            interval_start=started - timedelta(hours=12),
            interval_end=started,
            full_refresh=True,
        )

        def measured_sync(run: SyncRun, section: str, name: str) -> dict[str, Any]:
            """run_sync, noting the sandbox CRM process's CPU over it."""
            server_cpu = _cpu_of(pid)
            result = run_sync(
                timer, engine, base_url, run, section=section, mode=config.extract_mode
            )
            report.facts[f"sandbox CRM process CPU during the {name} sync"] = (
                f"{_cpu_of(pid) - server_cpu:.1f} s"
            )
            return result

        full = measured_sync(full_run, SECTION_FULL, "full")
        customers = count_customers(engine)
        changed = change_records(base_url, engine, config.changed_fraction)
        now = datetime.now(UTC)
        incremental_run = SyncRun(
            run_id=f"bench-incr-{now:%Y%m%dT%H%M%S}",
            interval_start=now,
            interval_end=now + timedelta(hours=12),
        )
        incremental = measured_sync(incremental_run, SECTION_INCREMENTAL, "incremental")
        report.facts["sandbox CRM process peak RSS"] = f"{_peak_rss_of(pid):.0f} MB"
        if config.baseline_records > 0:
            limit = min(config.records, config.baseline_records)
            run_baseline(timer, engine, baseline_uri, limit, full["load_row"])
        if config.workflow_deals > 0:
            run_workflow(timer, engine, config.workflow_deals)
        report.facts["customers in the warehouse"] = f"{count_customers(engine):,}"
        report.facts["customers after the full sync"] = f"{customers:,}"
        report.facts["changed in the CRM before the incremental run"] = ", ".join(
            f"{m} {n:,}" for m, n in changed.items()
        )
        report.facts["incremental run extracted"] = f"{incremental['extracted']:,}"
        report.facts["backend"] = report.backend
        report.facts["load average at end"] = _load()
    report.slow_statements = slow.kept
    if config.out_dir is not None:
        save_report(report, config.out_dir)
    return report


def save_report(report: BenchReport, out_dir: Path) -> Path:
    """Write the markdown report to ``out_dir/bench-<N>-<UTC start time>.md``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"bench-{report.records}-{report.started_at:%Y%m%dT%H%M%SZ}.md"
    out.write_text(render_markdown(report), encoding="utf-8")
    log.info("report written to %s", out)
    return out


def _load() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__)
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
    parser.add_argument("--out-dir", type=Path, default=Path("bench-results"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
        out_dir=args.out_dir,
    )
    # A kill (SIGTERM) unwinds like Ctrl-C, so the sandbox process and the throwaway cluster stop.
    signal.signal(signal.SIGTERM, _interrupted)
    report = run_bench(config)
    print(render_markdown(report), flush=True)
    return 0


def _interrupted(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


if __name__ == "__main__":
    raise SystemExit(main())
