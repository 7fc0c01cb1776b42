"""Zoho's official Python SDK (zohocrmsdk8-0) against the sandbox's `zoho` profile: records read
and written, and a Bulk Read job created, polled and downloaded.

The SDK lives in its own venv (it pins its own requests and must not enter the project's). With
ZOHO_SDK_PYTHON set to that venv's python, `test_the_official_sdk_works_against_the_zoho_profile`
runs the SDK itself (sdk/zoho_sdk_driver.py) and, with SANDBOX_RECORD_TRANSCRIPT=1, records every
request it sent and the sandbox's answer in data/sdk_transcript.json. Without it that test is
skipped, and `test_the_recorded_sdk_requests_get_the_same_answers` replays the recorded requests,
so a sandbox change that would break the SDK shows in every run. Make the SDK's venv with
`python -m venv /tmp/zoho-sdk && /tmp/zoho-sdk/bin/pip install zohocrmsdk8-0==7.0.0`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.sandbox_client import TIMEOUT
from zoho_sandbox import SandboxConfig, SandboxServer
from zoho_sandbox.messages import Request, Response

HERE = Path(__file__).parent
TRANSCRIPT = HERE / "data" / "sdk_transcript.json"
DRIVER = HERE / "sdk" / "zoho_sdk_driver.py"
SDK_PYTHON = os.environ.get("ZOHO_SDK_PYTHON")
SINCE = "2026-06-01T00:00:00+00:00"
CONFIG = SandboxConfig(
    seed=7,
    accounts=20,
    contacts=60,
    deals=0,
    clock_start=datetime(2026, 12, 1, tzinfo=UTC),
    profile="zoho",
    # no job time, so that replayed polls see what the recorded ones saw
    knobs={
        "latency_ms": 2,
        "jitter_ms": 0,
        "bulk_job_base_seconds": 0,
        "bulk_job_seconds_per_record": 0,
        "bulk_page_records": 25,
    },
)


def _summary(resp: Response) -> dict[str, Any]:
    """What the SDK reads of an answer: status, code, and the body (a zip by its CSV text)."""
    body: Any = resp.body
    if isinstance(body, bytes) and resp.headers.get("Content-Type") == "application/zip":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            body = {name: archive.read(name).decode("utf-8") for name in archive.namelist()}
    elif isinstance(body, dict) and "access_token" in body:
        body = {**body, "access_token": "<token>", "api_domain": "<this sandbox>"}
    return {"status": resp.status, "body": body}


@pytest.fixture
def recorded() -> Iterator[tuple[SandboxServer, list[dict[str, Any]]]]:
    """A zoho-profile sandbox that notes each request it answers and its answer."""
    exchanges: list[dict[str, Any]] = []
    with SandboxServer(CONFIG) as sb:
        answer = sb.respond

        def respond(request: Request) -> Response:
            resp = answer(request)
            if not request.path.startswith("/__sandbox"):
                exchanges.append(
                    {
                        "method": request.method,
                        "path": request.path,
                        "query": request.query,
                        "content_type": request.headers.get("Content-Type"),
                        "body": request.body.decode("utf-8"),
                        "answer": json.loads(json.dumps(_summary(resp), default=str)),
                    }
                )
            return resp

        sb.respond = respond  # type: ignore[method-assign]
        yield sb, exchanges


@pytest.mark.skipif(not SDK_PYTHON, reason="ZOHO_SDK_PYTHON (a venv with zohocrmsdk8-0) not set")
def test_the_official_sdk_works_against_the_zoho_profile(
    recorded: tuple[SandboxServer, list[dict[str, Any]]], tmp_path: Path
) -> None:
    sb, exchanges = recorded
    run = subprocess.run(
        [str(SDK_PYTHON), str(DRIVER), sb.base_url, str(tmp_path), SINCE],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout)
    first_ids = sorted(str(i) for i in sb.store.table("Accounts").ids)[:5]
    assert got["accounts"]["ids"] == first_ids and got["accounts"]["more_records"] is True
    assert got["insert_ok"]["code"] == "SUCCESS" and got["insert_ok"]["status"] == 201
    assert got["insert_bad_email"]["code"] == "INVALID_DATA"
    assert got["insert_bad_email"]["details"]["api_name"] == "Email"
    bulk = got["bulk"]
    since = int(datetime.fromisoformat(SINCE).timestamp())
    matching = sum(1 for t in sb.store.table("Contacts").modified if t > since)
    assert matching > 25  # a second job page, asked for by page token
    assert (bulk["count"], bulk["rows"], bulk["more_records"], bulk["page"]) == (25, 25, True, 1)
    second = bulk["next_page"]
    rest = min(25, matching - 25)
    assert (second["count"], second["rows"], second["page"]) == (rest, rest, 2)
    assert "COMPLETED" in bulk["states"] and bulk["create_status"] == 201
    assert bulk["header"] == "id,Last_Name,Email,Account_Name,Modified_Time"
    assert bulk["file_name"].endswith(".zip") and bulk["csv_name"].endswith(".csv")
    if os.environ.get("SANDBOX_RECORD_TRANSCRIPT") == "1":
        TRANSCRIPT.write_text(json.dumps(exchanges, indent=1, ensure_ascii=False) + "\n")


def test_the_recorded_sdk_requests_get_the_same_answers(
    recorded: tuple[SandboxServer, list[dict[str, Any]]],
) -> None:
    sb, replayed = recorded
    pinned = json.loads(TRANSCRIPT.read_text("utf-8"))
    paths = {(e["method"], e["path"].rsplit("/", 1)[0]) for e in pinned}
    assert {("POST", "/crm/bulk/v8"), ("GET", "/crm/bulk/v8/read")} <= paths  # bulk is covered
    session, token = requests.Session(), ""
    for exchange in pinned:
        headers = {"Authorization": f"Zoho-oauthtoken {token}"}
        if exchange["content_type"]:
            headers["Content-Type"] = exchange["content_type"]
        query = f"?{exchange['query']}" if exchange["query"] else ""
        resp = session.request(
            exchange["method"],
            f"{sb.base_url}{exchange['path']}{query}",
            data=exchange["body"].encode("utf-8"),
            headers=headers,
            timeout=TIMEOUT,
        )
        if "access_token" in resp.text:
            token = resp.json()["access_token"]
        assert replayed[-1]["answer"] == exchange["answer"], exchange["path"]
