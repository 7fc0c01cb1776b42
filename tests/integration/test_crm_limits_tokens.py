"""Zoho's token-grant limit across task processes: the sandbox's `zoho` profile answers "Access
Denied" past its grants per window (HTTP 200, as Zoho does), and three task processes sharing
the warehouse's token store wait it out together: one grant once the window passes, and no more
asks than the wait allows, however many processes wait.

(tests/integration/test_crm_token_store.py covers the same in one process, with denials faked
in the session; this is the real limit, across processes.)

Run as a script, this module is one such task process.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, text

from tests.integration.test_crm_limits_processes import connections, results, start
from zoho_sandbox import SandboxConfig, SandboxServer

SCRIPT = "tests.integration.test_crm_limits_tokens"
GRANTS_PER_WINDOW = 2
WINDOW_SECONDS = 3.0
WAIT_SECONDS = 1.0  # the clients' DenialPolicy: ask again after this long
PROCESSES = 3


@pytest.fixture
def zoho() -> Iterator[SandboxServer]:
    knobs = {
        "latency_ms": 0,
        "jitter_ms": 0,
        "token_grants_per_window": GRANTS_PER_WINDOW,
        "token_window_seconds": WINDOW_SECONDS,
    }
    cfg = SandboxConfig(accounts=5, contacts=0, deals=0, profile="zoho", knobs=knobs)
    with SandboxServer(cfg) as sb:
        yield sb


def spend_the_window(sb: SandboxServer) -> None:
    """Another deployment with the same refresh token mints every grant the window allows."""
    form = {
        "grant_type": "refresh_token",
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "refresh_token": sb.refresh_token,
    }
    for _ in range(GRANTS_PER_WINDOW):
        body = requests.post(f"{sb.accounts_url}/oauth/v2/token", data=form, timeout=10).json()
        assert "access_token" in body


def test_access_denied_is_waited_out_by_every_process_not_multiplied(
    zoho: SandboxServer, warehouse: Engine, warehouse_uri: str
) -> None:
    env = connections(zoho, warehouse_uri)
    procs = [start([], env, own_tmp=False, module=SCRIPT) for _ in range(PROCESSES)]
    spend_the_window(zoho)
    zoho.reset_stats()
    answers = results(procs)

    assert [a["org"] for a in answers] == ["sandbox-org-1"] * PROCESSES
    # Nobody got through before the window freed a grant: they waited, they did not fail.
    assert min(a["seconds"] for a in answers) >= WINDOW_SECONDS - 1.0
    usage = zoho.stats["usage"]
    assert usage["token_grants"] == 1  # one new token, for all three
    # One ask per wait for everyone (the store records the denial), not one per process:
    # about WINDOW_SECONDS / WAIT_SECONDS denials, where each process asking would be 3x that.
    assert 1 <= usage["token_denials"] <= WINDOW_SECONDS / WAIT_SECONDS + 1
    assert zoho.stats["by_path"]["/oauth/v2/token"] == usage["token_denials"] + 1
    with warehouse.connect() as conn:
        row = conn.execute(text("SELECT grants, denied_until FROM books.crm_access_tokens")).one()
    assert (row.grants, row.denied_until) == (1, 0)


def main(argv: Sequence[str]) -> None:
    from crm_books.zoho.auth import DenialPolicy
    from crm_books.zoho.hook import ZohoCrmHook

    denial = DenialPolicy(wait_seconds=WAIT_SECONDS, max_wait_seconds=30.0)
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.monotonic()
    org: dict[str, Any] = ZohoCrmHook().get_client(denial=denial).organization()
    print(json.dumps({"org": org["id"], "seconds": time.monotonic() - started}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
