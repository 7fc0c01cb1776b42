"""The built product image, run with Docker: its three DAGs parse with no import errors, its
entrypoint runs what docker-compose.yaml asks of it, and no dev tool is inside.

Skips when no Docker engine answers or the image is not built (`make image` or
`make image-offline`); `make image-check` names the images in CRM_BOOKS_IMAGE and
CRM_BOOKS_SANDBOX_IMAGE, and then an image that is missing fails instead."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from tests.locks import canonical, lock_pins

ROOT = Path(__file__).resolve().parents[2]
DAG_IDS = {"crm_books_sync", "potential_reconcile", "books_merge_customers"}
SPLIT = "----8<----"
# A slow 2-core host needs about a minute for `airflow db migrate` plus a DAG folder parse.
RUN_TIMEOUT = 600


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return probe.returncode == 0


@cache
def image(variable: str, default: str) -> str:
    """The image to check: named by `variable` (then it must exist), or the default tag."""
    named = os.environ.get(variable)
    if not engine_answers():
        if named:
            pytest.fail(f"{variable}={named}, but no Docker engine answers `docker version`")
        pytest.skip("no Docker engine answers `docker version`")
    tag = named or default
    found = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, timeout=30)
    if found.returncode != 0:
        message = f"image {tag} is not built; run `make image` (or `make image-offline`)"
        if named:
            pytest.fail(message)
        pytest.skip(message)
    return tag


def airflow_version() -> str:
    return lock_pins("runtime.txt")["apache-airflow"]


def airflow_image() -> str:
    return image("CRM_BOOKS_IMAGE", f"crm-books-airflow:{airflow_version()}")


def sandbox_image() -> str:
    return image("CRM_BOOKS_SANDBOX_IMAGE", f"crm-books-sandbox:{airflow_version()}")


def run(
    tag: str, *command: str, user: str | None = None, skip_db_wait: bool = False
) -> subprocess.CompletedProcess[str]:
    """`docker run` with no network, as a fresh container of the compose services would start."""
    options = ["--rm", "--network", "none", "-e", "AIRFLOW__CORE__LOAD_EXAMPLES=False"]
    if user:
        options += ["--user", user]
    if skip_db_wait:
        options += ["-e", "CONNECTION_CHECK_MAX_COUNT=0"]
    return subprocess.run(
        ["docker", "run", *options, tag, *command],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def json_document(output: str) -> object:
    """The JSON an `airflow ... -o json` printed, ignoring any log line around it."""
    for line in output.splitlines():
        if line.startswith(("[", "{")):
            return json.loads(line)
    raise AssertionError(f"no JSON in {output!r}")


def test_the_three_dags_parse_in_the_image_with_no_import_errors() -> None:
    script = (
        "airflow db migrate >/dev/null"
        " && airflow dags list --local -o json"
        f" && echo '{SPLIT}'"
        " && airflow dags list-import-errors --local -o json"
    )
    result = run(airflow_image(), "bash", "-c", script)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    listed, errors = result.stdout.split(SPLIT)
    dags = json_document(listed)
    assert isinstance(dags, list)
    assert {dag["dag_id"] for dag in dags} == DAG_IDS
    assert all(dag["fileloc"].startswith("/opt/airflow/dags/") for dag in dags), dags
    # An empty list prints no JSON at all, just "No data found".
    assert "[" not in errors or json_document(errors) == [], errors


def test_no_test_lint_or_dev_tool_is_in_the_image() -> None:
    tools = {"pytest", "pytest-timeout", "hypothesis", "ruff", "mypy"}
    assert tools <= set(lock_pins("dev.txt")), "the dev lock no longer has the tools checked here"
    probe = (
        "import importlib.metadata as m, importlib.util as u, json, os, shutil, sys;"
        "print(json.dumps({"
        "'dists': sorted({d.metadata['Name'] for d in m.distributions()}),"
        "'modules': [n for n in sys.argv[1:] if u.find_spec(n)],"
        "'commands': [c for c in ('pytest', 'ruff', 'mypy') if shutil.which(c)],"
        "'airflow_home': sorted(os.listdir('/opt/airflow')),"
        "'requirements': sorted(os.listdir('/requirements')),"
        "}))"
    )
    modules = ["pytest", "ruff", "mypy", "hypothesis", "devtools", "tests", "zoho_sandbox"]
    result = run(airflow_image(), "python", "-c", probe, *modules, skip_db_wait=True)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json_document(result.stdout)
    assert isinstance(found, dict)
    dists = {canonical(d) for d in found["dists"]}
    assert not dists & tools and not [d for d in dists if d.startswith("types-")], dists
    assert found["modules"] == [] and found["commands"] == [], found
    assert found["requirements"] == ["runtime.txt"]
    assert {"dags", "plugins", "include"} <= set(found["airflow_home"])
    assert not {"tests", "devtools", "docs", "requirements", "zoho_sandbox"} & set(
        found["airflow_home"]
    ), found["airflow_home"]


def test_only_the_sandbox_image_carries_the_sandbox_crm() -> None:
    probe = "import zoho_sandbox.__main__"
    assert run(sandbox_image(), "python", "-c", probe, skip_db_wait=True).returncode == 0
    missing = run(airflow_image(), "python", "-c", probe, skip_db_wait=True)
    assert "No module named 'zoho_sandbox'" in missing.stderr


def test_entrypoint_runs_airflow_commands_for_any_uid_of_group_0() -> None:
    # As docker-compose.yaml starts the services: `command: <airflow subcommand>` as AIRFLOW_UID:0.
    locked = airflow_version()
    for command in (["version"], ["airflow", "version"]):
        result = run(airflow_image(), *command, user="4242:0")
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.strip().splitlines()[-1] == locked
    # airflow-init's and the healthchecks' `python ...` and the sandbox's `CONNECTION_CHECK_MAX_COUNT: 0`.
    probe = "import crm_books, os; print(os.environ['HOME'], crm_books.__name__)"
    result = run(sandbox_image(), "python", "-c", probe, user="4242:0", skip_db_wait=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["/home/airflow", "crm_books"]
