"""`python -m devtools.bench.incremental_extract`: only the 1 % incremental extract, timed, with a
timeline of its calls.

The bench's incremental row without its full sync: the sandbox generates N records, the
warehouse's high-water marks are set where a full run would leave them (each module's newest
Modified_Time; deletions up to the sandbox clock), 1 % of each module's generated ids are
changed over the next 12 hours of CRM time (``spread_changes``, as the bench does; the bench
changes 1 % of the warehouse's ids, a few fewer contacts), and the two extract tasks of the next
scheduled run
read them in two processes at once (``_extract_one``), ``--runs`` times. Each run reports its
wall time against the profile's bound, the ids check, and the sandbox's timeline of API calls:
their utilisation of the client's in-flight slots (sum of call durations / (slots x wall)) and
the time spent with fewer calls in flight than slots.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from datetime import datetime
from typing import Any

import requests

from crm_books import config as crm_config
from crm_books.customers.plan import SyncRun
from crm_books.zoho.limiter import DEFAULT_MAX_CONCURRENCY
from devtools.bench.bounds import ModuleRead, ProfileLimits, extract_bound_seconds
from devtools.bench.chunk_pool import map_calls
from devtools.bench.report import every_kth, split_records
from devtools.bench.stack import ClientSpec, crm_client, warehouses
from devtools.bench.sync_run import CHANGE_SPREAD, _extract_one, spread_changes
from devtools.bench.usage import (
    ADMIN_TIMEOUT,
    Call,
    check_ids,
    describe_checks,
    reset_usage,
    sandbox_profile,
    sandbox_usage,
    staged_ids,
    timeline_calls,
    utilisation,
)
from zoho_sandbox.generator.ids import id_base
from zoho_sandbox.process import sandbox_process

log = logging.getLogger("devtools.bench")

CHANGED_FRACTION = 0.01


def render_timeline(calls: Sequence[Call]) -> str:
    """One line a call: start, end, duration, what it read."""
    origin = calls[0].start if calls else 0.0
    return "\n".join(
        f"{c.start - origin:7.3f} {c.end - origin:7.3f} {c.seconds:6.3f}  {c.label}" for c in calls
    )


def changed_ids(records: int, fraction: float) -> dict[str, list[str]]:
    """Every 1/fraction-th generated id of each module (generated record i of a module has id
    ``id_base(module) + i + 1``), as the bench changes every 100th warehouse id."""
    accounts, contacts = split_records(records)
    sizes = {crm_config.ACCOUNTS: accounts, crm_config.CONTACTS: contacts}
    return {
        m: every_kth([str(id_base(m) + i + 1) for i in range(n)], fraction)
        for m, n in sizes.items()
    }


def sandbox_now(base_url: str) -> datetime:
    resp = requests.get(f"{base_url}/__sandbox/health", timeout=ADMIN_TIMEOUT)
    resp.raise_for_status()
    return datetime.fromisoformat(str(resp.json()["now"]))


def latest_modified(client: Any, module: str) -> datetime:
    """The module's newest Modified_Time: where a full run's high-water mark ends (one call)."""
    from crm_books.zoho.endpoints import RECORDS_PATH, SORT_FIELD
    from crm_books.zoho.paging import parse_zoho_time

    params = {"fields": SORT_FIELD, "sort_by": SORT_FIELD, "sort_order": "desc", "per_page": 1}
    body = client._get(RECORDS_PATH.format(module=module), params)
    return parse_zoho_time(str(body["data"][0][SORT_FIELD]))


def set_high_water_marks(engine: Any, client: Any, run_id: str, now: datetime) -> None:
    """Where a full run leaves both modules' marks: the newest Modified_Time it read, and the
    deletions read up to ``now`` (the product's SQL)."""
    from crm_books.warehouse.sql_files import run_sql

    with engine.begin() as conn:
        for module in (crm_config.ACCOUNTS, crm_config.CONTACTS):
            params = {"module": module, "run_id": run_id, "now": now}
            mark = latest_modified(client, module)
            run_sql(conn, "sync/advance_high_water_mark", {**params, "high_water_mark": mark})
            run_sql(
                conn,
                "sync/advance_deleted_high_water_mark",
                {**params, "deleted_high_water_mark": now},
            )


def measure(records: int, runs: int, max_concurrency: int, seed: int, show: bool) -> list[float]:
    """Set up once, then ``runs`` incremental extracts; returns each one's ratio to the bound."""
    from crm_books.customers.organization import check_organization
    from crm_books.customers.schema import ensure_schema
    from crm_books.warehouse.engine import create_warehouse_engine

    ratios = []
    with ExitStack() as stack:
        uri, _baseline, backend = stack.enter_context(warehouses(None))
        accounts, contacts = split_records(records)
        base_url, _pid = stack.enter_context(
            sandbox_process(accounts, contacts, seed=seed, profile="zoho")
        )
        limits = ProfileLimits.from_admin(sandbox_profile(base_url), max_concurrency)
        print(limits.describe(), f"; warehouse {backend}", flush=True)
        engine = create_warehouse_engine(uri)
        stack.callback(engine.dispose)
        ensure_schema(engine)
        spec = ClientSpec(base_url, uri, max_concurrency)
        client = crm_client(spec, engine)
        check_organization(engine, client)
        start = sandbox_now(base_url)
        set_high_water_marks(engine, client, "bench-full", start)
        changed = spread_changes(base_url, changed_ids(records, CHANGED_FRACTION))
        for n in range(runs):
            run = SyncRun(
                run_id=f"bench-incr-{n}",
                interval_start=start,
                interval_end=start + CHANGE_SPREAD,
            )
            ratios.append(_one_run(engine, uri, spec, limits, run, changed, show))
    return ratios


def _one_run(
    engine: Any,
    uri: str,
    spec: ClientSpec,
    limits: ProfileLimits,
    run: SyncRun,
    changed: Mapping[str, Sequence[str]],
    show: bool,
) -> float:
    reset_usage(spec.base_url)
    jobs = [(spec, run, module) for module in run.modules]
    results = map_calls(uri, _extract_one, jobs)
    wall = max(r[2] for r in results)
    reads = [ModuleRead(module, n, False) for module, n, _s, _c in results]
    bound = extract_bound_seconds(limits, reads, parallel=True) or 0.0
    used = sandbox_usage(spec.base_url)
    calls = timeline_calls(spec.base_url)
    checks = [
        check_ids(m, staged_ids(engine, run.run_id, m), changed[m], others_allowed=True)
        for m in run.modules
    ]
    print(f"\n## {run.run_id}", flush=True)
    for module, n, seconds, _cpu in results:
        print(f"extract {module}: {n:,} records in {seconds:.2f} s")
    print(
        f"both: {sum(r.records for r in reads):,} records in {wall:.2f} s, bound {bound:.2f} s, "
        f"{wall / bound:.2f}x; peak in flight {used['peak_in_flight']}, credits "
        f"{used['credits_used']}, refusals {used['concurrency_refusals']}"
    )
    print("ids:", describe_checks(checks))
    if calls:
        span = max(c.end for c in calls) - calls[0].start
        print("timeline:", utilisation(calls, limits.in_flight, span).describe())
        if show:
            print(render_timeline(calls))
    return wall / bound if bound else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.bench.incremental_extract", description=__doc__
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-concurrency", type=int, default=DEFAULT_MAX_CONCURRENCY)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeline", action="store_true", help="print every call")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    ratios = measure(args.records, args.runs, args.max_concurrency, args.seed, args.timeline)
    print("\nratios to the bound:", ", ".join(f"{r:.2f}x" for r in ratios))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
