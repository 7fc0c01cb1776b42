"""Zoho's limits held by separate processes at once, as Airflow runs them: both extracts and the
deal sensor, each its own process (on PostgreSQL each with its own TMPDIR, as if on its own
host), all built by the `zoho_crm` hook against the sandbox's `zoho` profile.

The sandbox's own cap is set above the client's `max_concurrency`, so a limiter that does not
hold shows as a peak in flight above it (the sandbox's stat), not as 429s the client retries.
Run as a script (`python -m tests.integration.test_crm_limits_processes ROLE ...`), this module
is one of those processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from zoho_sandbox import SandboxConfig, SandboxServer

ROOT = Path(__file__).resolve().parents[2]
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)  # the sandbox's clock; records are older
SINCE = ANCHOR - timedelta(days=3650)  # before every generated record: an incremental of all
MAX_CONCURRENCY = 3  # the client's cap (the zoho_crm extra)
SANDBOX_CAP = 8  # above what the three processes could have in flight without the limiter
FIELDS = {"Accounts": ["Account_Name"], "Contacts": ["Last_Name"]}
POKES = 20
ROLES = ("Accounts extract", "Contacts extract", "sensor")
PROCESS_TIMEOUT = 120
SCRIPT = "tests.integration.test_crm_limits_processes"  # this module as a task process


@pytest.fixture
def zoho() -> Iterator[SandboxServer]:
    knobs = {"latency_ms": 40, "jitter_ms": 0, "max_concurrency": SANDBOX_CAP}
    cfg = SandboxConfig(
        accounts=600, contacts=1200, deals=0, clock_start=ANCHOR, profile="zoho", knobs=knobs
    )
    with SandboxServer(cfg) as sb:
        yield sb


def connections(sb: SandboxServer, warehouse_uri: str) -> dict[str, str]:
    """The Airflow connections (and the workflow Variable) a task process of this test reads."""
    crm = {
        "conn_type": "http",
        "host": sb.base_url,
        "login": sb.client_id,
        "password": sb.client_secret,
        "extra": {
            "refresh_token": sb.refresh_token,
            "accounts_url": sb.accounts_url,
            "max_concurrency": MAX_CONCURRENCY,
        },
    }
    return {
        "AIRFLOW_CONN_ZOHO_CRM": json.dumps(crm),
        "AIRFLOW_CONN_BOOKS_WAREHOUSE": warehouse_uri,
        "AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW": "estimate",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
    }


def start(
    args: Sequence[str], env: dict[str, str], own_tmp: bool, module: str = SCRIPT
) -> subprocess.Popen[str]:
    """One task process (`module` run as a script), started and waiting (after its imports)
    for "go" on stdin."""
    child_env = {**os.environ, **env}
    if own_tmp:  # another host: its flock slots would be its own
        child_env["TMPDIR"] = tempfile.mkdtemp(prefix="crm-limits-host-")
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=child_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise AssertionError(f"{args} did not start: {line!r} {proc.communicate()[1][-3000:]}")
    return proc


def results(procs: Sequence[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    """Say "go" to every process at once, then each one's JSON answer."""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    answers = []
    for proc in procs:
        out, err = proc.communicate(timeout=PROCESS_TIMEOUT)
        assert proc.returncode == 0, err[-3000:]
        answers.append(json.loads(out.strip().splitlines()[-1]))
    return answers


def test_two_extracts_and_the_sensor_in_three_processes_stay_within_the_cap_on_one_token(
    zoho: SandboxServer, warehouse: Any, warehouse_uri: str
) -> None:
    env = connections(zoho, warehouse_uri)
    postgres = warehouse_uri.startswith("postgresql")
    procs = [
        start(["extract", "Accounts"], env, own_tmp=postgres),
        start(["extract", "Contacts"], env, own_tmp=postgres),
        start(["sensor"], env, own_tmp=postgres),
    ]
    zoho.reset_stats()
    accounts, contacts, sensor = results(procs)
    print({name: a["seconds"] for name, a in zip(ROLES, (accounts, contacts, sensor), strict=True)})

    assert (accounts["read"], accounts["unique"]) == (600, 600)
    assert (contacts["read"], contacts["unique"]) == (1200, 1200)
    assert sensor["pokes"] == [False] * POKES
    expected = "AdvisoryLockLimiter" if postgres else "FileLockLimiter"
    assert {accounts["limiter"], contacts["limiter"], sensor["limiter"]} == {expected}
    usage = zoho.stats["usage"]
    # Two processes of three windows each and the sensor: up to 7 calls at once without a
    # shared cap; the sandbox allows 8, so only the limiter keeps them at 3.
    assert 2 <= usage["peak_in_flight"] <= MAX_CONCURRENCY
    assert usage["concurrency_refusals"] == 0
    # Every process, window and poke used the one access token in the warehouse.
    assert usage["token_grants"] == 1 and usage["token_denials"] == 0


def test_twenty_sensor_pokes_use_one_token_grant(
    zoho: SandboxServer, warehouse: Any, warehouse_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_books.deals.sensor import DealChangesSensor

    for name, value in connections(zoho, warehouse_uri).items():
        if name.startswith("AIRFLOW_"):
            monkeypatch.setenv(name, value)
    zoho.reset_stats()
    sensor = DealChangesSensor(task_id="wait_for_deal_changes", poke_interval=0.1, timeout=1)

    pokes = [sensor.poke({}) for _ in range(POKES)]  # each poke builds its client, as in Airflow

    assert pokes == [False] * POKES
    usage = zoho.stats["usage"]
    assert usage["token_grants"] == 1
    assert zoho.stats["by_path"].get("/oauth/v2/token") == 1
    assert usage["credits_used"] >= POKES  # the pokes did reach the CRM


# -- the task processes ----------------------------------------------------------------------
def _extract(module: str) -> dict[str, Any]:
    """What an extract task does with the CRM: an incremental read of `module` (concurrent
    windows) through a client the hook builds."""
    from crm_books.zoho.hook import ZohoCrmHook

    client = ZohoCrmHook().get_client(per_page=20)
    pages = client.iter_pages(module, FIELDS[module], modified_since=SINCE, split_until=ANCHOR)
    ids = [str(r["id"]) for page in pages for r in page]
    limiter = type(client.transport.limiter).__name__
    return {"read": len(ids), "unique": len(set(ids)), "limiter": limiter}


def _sensor() -> dict[str, Any]:
    """The deal sensor poking POKES times, each poke with its own client, as deals/sensor.py."""
    from crm_books.deals.sensor import DealChangesSensor
    from crm_books.zoho.hook import ZohoCrmHook

    sensor = DealChangesSensor(task_id="wait_for_deal_changes", poke_interval=0.1, timeout=1)
    pokes = [sensor.poke({}) for _ in range(POKES)]
    limiter = type(ZohoCrmHook().get_client().transport.limiter).__name__
    return {"pokes": pokes, "limiter": limiter}


def main(argv: Sequence[str]) -> None:
    role = argv[0]
    from crm_books.deals import sensor as _warm  # noqa: F401  (imports before the start line)
    from crm_books.zoho import hook as _hook  # noqa: F401

    print("ready", flush=True)
    sys.stdin.readline()
    started = time.monotonic()
    answer = _extract(argv[1]) if role == "extract" else _sensor()
    print(json.dumps({**answer, "seconds": round(time.monotonic() - started, 2)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
