"""Every command in README.md and docs/*.md is run by a test or `make demo`, or says why it can't be."""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from zoho_sandbox.process import stop

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
VENV_BIN = Path(sys.executable).parent
# Inline `code` spans count as commands when they start with one of these (after any VAR=value).
COMMAND_PREFIXES = (
    "make ",
    "python -m crm_books",
    "python -m devtools",
    "python -m zoho_sandbox",
    "airflow ",
    "docker compose",
    "curl",
    ".venv/bin/",
    "cp ",
)
SHELL_FENCES = {"bash", "sh", "shell"}
FENCE = re.compile(r"^\s*```(\w*)")
INLINE_CODE = re.compile(r"`([^`\n]+(?:\n[^`\n]+)*)`")
ENV_ASSIGNMENTS = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)+")


# --- extracting the commands (pure) ------------------------------------------------------------


def normalise(command: str) -> str:
    """One line, single spaces: the key of COMMANDS."""
    return " ".join(command.split())


def strip_comment(line: str) -> str:
    """The line without a shell comment (a `#` at the start or after a space, outside quotes)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def shell_block_commands(lines: list[str]) -> list[str]:
    """The commands of a ```bash block: comments dropped, backslash continuations joined."""
    commands: list[str] = []
    pending = ""
    for raw in lines:
        line = strip_comment(raw).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command = normalise(pending + line)
        pending = ""
        if command:
            commands.append(command)
    if pending.strip():
        commands.append(normalise(pending))
    return commands


def console_block_commands(lines: list[str]) -> list[str]:
    """The `$ `-prompted lines of a ```console block."""
    return [
        normalise(strip_comment(line.strip()[2:]))
        for line in lines
        if line.strip().startswith("$ ")
    ]


def is_inline_command(span: str) -> bool:
    return ENV_ASSIGNMENTS.sub("", span).startswith(COMMAND_PREFIXES)


def commands_in_markdown(markdown: str) -> list[str]:
    """Commands of the shell and console blocks, then the inline spans that look like commands."""
    commands: list[str] = []
    prose: list[str] = []
    block: list[str] | None = None
    language = ""
    for line in markdown.splitlines():
        fence = FENCE.match(line)
        if block is None and fence:
            block, language = [], fence.group(1)
        elif block is not None and fence:
            if language in SHELL_FENCES:
                commands += shell_block_commands(block)
            elif language == "console":
                commands += console_block_commands(block)
            block = None
        elif block is not None:
            block.append(line)
        else:
            prose.append(line)
    for match in INLINE_CODE.finditer("\n".join(prose)):
        span = normalise(match.group(1))
        if is_inline_command(span):
            commands.append(span)
    return commands


def documented_commands() -> dict[str, str]:
    """Every command of README.md and docs/*.md -> the first file that shows it."""
    found: dict[str, str] = {}
    for path in DOCS:
        for command in commands_in_markdown(path.read_text(encoding="utf-8")):
            found.setdefault(command, path.relative_to(ROOT).as_posix())
    return found


# --- who runs each command ---------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """How a documented command is exercised: `runs` run it (placeholders, ports and sizes
    substituted), `same` do the same thing another way, or `reason` says why it can't run here."""

    runs: tuple[str, ...] = ()
    same: tuple[str, ...] = ()
    reason: str = ""
    note: str = ""


def runs(*refs: str, note: str = "") -> Entry:
    return Entry(runs=refs, note=note)


def same(*refs: str, note: str) -> Entry:
    return Entry(same=refs, note=note)


def not_here(reason: str, *checked_by: str) -> Entry:
    return Entry(same=checked_by, reason=reason)


IMAGE_CHECKS = (
    "tests/image/test_image.py::test_the_three_dags_parse_in_the_image_with_no_import_errors",
    "tests/image/test_image.py::test_no_test_lint_or_dev_tool_is_in_the_image",
)
MAKE_DEMO = "make demo"
CI = "CI: .ci/run runs `make test`"
THIS = "tests/docs/test_readme_commands.py"
STACK = "tests/ui/test_local_stack.py"
LOCAL = "tests/ui/test_local_airflow.py"
COMPOSE = "tests/test_docker_compose.py"
CELERY_STACK = "tests/stack/test_celery_stack.py"
DOCUMENTS = "tests/integration/test_crm_documents.py"
NO_DOCKER = "no Docker engine here (tests check the compose file and image instead)"
NO_ZOHO = "needs Zoho's real accounts server and a grant code; no network to Zoho here"
COMPOSE_CHECKS = (
    f"{COMPOSE}::test_docker_compose_accepts_the_file",
    f"{COMPOSE}::test_dependencies_exist_can_be_met_and_have_no_cycle",
)
MAKE_AIRFLOW = f"{STACK}::test_make_airflow_prints_url_and_login_and_ctrl_c_stops_everything"
REST_TRIGGER = f"{STACK}::test_rest_api_trigger_of_crm_books_sync_completes"
CLI_SETUP = f"{THIS}::test_cli_setup_reaches_the_make_airflow_metadata_db"
BENCH_CLI = f"{THIS}::test_bench_cli_runs_the_documented_command_at_a_small_size"
# airflow-init's seeding run for real, then these two commands, then the seeding again.
SEEDING = f"{COMPOSE}::test_init_seeding_keeps_what_a_user_changed"

COMMANDS: dict[str, Entry] = {
    # README: the two commands and the make targets
    "make demo": runs(f"{THIS}::test_make_demo_command_runs_every_dag_and_prints_what_landed"),
    "make test": runs(CI, note="this test module is one of the tests it runs"),
    "make unit": runs(CI, note="make test runs the same tests (tests/unit, tests/dags) and more"),
    "make venv": runs(CI, note="make test builds .venv with it first, on a clean clone"),
    "make bench": runs(BENCH_CLI, note="make bench = python -m devtools.bench --records $N"),
    "N=1000000 make bench": runs(BENCH_CLI, note="N only sets --records; the test uses 300"),
    "make -o .venv/.installed bench": runs(BENCH_CLI, note="-o only skips the venv stamp"),
    "make airflow": runs(MAKE_AIRFLOW),
    "make image": not_here(
        "needs a Docker engine and apache/airflow from a registry", *IMAGE_CHECKS
    ),
    "make image-offline": not_here(
        "needs root, debootstrap and a running dockerd; results in docs/image.md", *IMAGE_CHECKS
    ),
    "make image-check": runs(
        *IMAGE_CHECKS, note="pytest tests/image with the image names set; skips without Docker"
    ),
    "AIRFLOW_PORT=8181 make airflow": runs(
        MAKE_AIRFLOW, f"{LOCAL}::test_ports_come_from_flags_or_environment"
    ),
    "AIRFLOW_PORT=8181 SANDBOX_PORT=8766 make airflow": runs(
        MAKE_AIRFLOW, f"{LOCAL}::test_ports_come_from_flags_or_environment"
    ),
    # README: Airflow's CLI against the make airflow stack
    "export AIRFLOW_HOME=$PWD/.airflow": runs(CLI_SETUP),
    "export PATH=$PWD/.venv/bin:$PATH": runs(CLI_SETUP),
    "airflow connections list": runs(CLI_SETUP),
    "make sandbox": runs(f"{THIS}::test_sandbox_serve_command_serves_the_documented_sizes"),
    "make lock": not_here(
        "re-resolves requirements/runtime.txt and dev.txt against the package index (network);"
        " `uv pip check` of the result runs in every venv build"
    ),
    # README: real Zoho org
    'curl -X POST "https://accounts.zoho.com/oauth/v2/token?grant_type=authorization_code'
    '&client_id=…&client_secret=…&code=…"': not_here(NO_ZOHO),
    "airflow connections add zoho_crm --conn-type http --conn-host https://www.zohoapis.com"
    ' --conn-login CLIENT_ID --conn-password CLIENT_SECRET --conn-extra \'{"refresh_token":'
    ' "…", "accounts_url": "https://accounts.zoho.com"}\'': runs(
        f"{THIS}::test_connections_add_command_makes_a_connection_the_hook_reads"
    ),
    # README, docs/docker-compose.md: settings in the metadata DB, seeded only where absent
    "airflow connections delete zoho_crm": runs(SEEDING),
    "airflow variables set books_potential_workflow off": runs(SEEDING),
    "docker compose run --rm airflow-cli airflow connections delete zoho_crm": not_here(
        NO_DOCKER, SEEDING
    ),
    "docker compose run --rm airflow-cli airflow variables set books_potential_workflow off": (
        not_here(NO_DOCKER, SEEDING)
    ),
    # README + docs/docker-compose.md
    "cp .env.example .env": same(
        f"{COMPOSE}::test_env_example_spells_out_the_defaults",
        note="copying is trivial; the test proves the copy changes nothing until edited",
    ),
    'echo "AIRFLOW_UID=$(id -u)" >> .env': not_here(NO_DOCKER, *COMPOSE_CHECKS),
    "docker compose": not_here(NO_DOCKER, *COMPOSE_CHECKS),
    "docker compose up -d": not_here(NO_DOCKER, *COMPOSE_CHECKS),
    "docker compose up -d --build": not_here(NO_DOCKER, *COMPOSE_CHECKS),
    "docker compose up -d --scale airflow-worker=3": not_here(
        NO_DOCKER, f"{COMPOSE}::test_what_the_compose_settings_load_is_pinned_in_the_runtime_lock"
    ),
    "docker compose ps": not_here(NO_DOCKER, *COMPOSE_CHECKS),
    "docker compose logs airflow-init": not_here(
        NO_DOCKER, f"{COMPOSE}::test_init_migrates_airflow_then_the_warehouse"
    ),
    "docker compose --profile flower up -d": not_here(NO_DOCKER, *COMPOSE_CHECKS),
    "docker compose run --rm airflow-cli airflow connections get zoho_crm": not_here(
        NO_DOCKER, f"{COMPOSE}::test_zoho_crm_connection_feeds_the_project_client"
    ),
    "docker compose stop crm-sandbox": not_here(NO_DOCKER, *COMPOSE_CHECKS),
    "docker compose exec books-warehouse createdb -U books books_prod": not_here(
        NO_DOCKER, f"{COMPOSE}::test_warehouse_credentials_change_together"
    ),
    "docker compose down": not_here(NO_DOCKER, *COMPOSE_CHECKS),
    "docker compose down -v": not_here(NO_DOCKER, *COMPOSE_CHECKS),
    # docs/docker-compose.md: workers, recovery, the stack test (compose run on loopback)
    "docker compose ps airflow-worker": not_here(
        NO_DOCKER,
        f"{CELERY_STACK}::test_every_service_answers_its_compose_healthcheck_within_its_timeout",
    ),
    "docker compose stop": not_here(NO_DOCKER, *COMPOSE_CHECKS),
    "docker compose up -d --scale airflow-worker=N": not_here(
        NO_DOCKER,
        f"{CELERY_STACK}::test_killed_worker_task_is_retried_and_the_warehouse_matches_a_clean_run",
    ),
    ".venv/bin/python -m pytest tests/stack -s": runs(
        CI, note="make test runs tests/stack with every other test"
    ),
    # docs/operating.md: the CLI against a running stack
    "export AIRFLOW_HOME=$PWD/.airflow PATH=$PWD/.venv/bin:$PATH": same(
        f"{CELERY_STACK}::test_backfill_with_one_run_at_a_time_converges",
        note="the stack test runs the CLI with the stack's AIRFLOW_HOME and the venv's bin on PATH",
    ),
    "airflow dags list": runs(f"{CELERY_STACK}::test_backfill_with_one_run_at_a_time_converges"),
    "docker compose run --rm airflow-cli airflow dags list": not_here(
        NO_DOCKER, f"{CELERY_STACK}::test_backfill_with_one_run_at_a_time_converges"
    ),
    # README: warehouse, backfill, documents, sandbox
    "python -m crm_books migrate": runs(
        f"{THIS}::test_migrate_command_creates_then_applies_nothing"
    ),
    "airflow backfill create --dag-id crm_books_sync --from-date 2026-11-01"
    " --to-date 2026-11-03 --max-active-runs 1": runs(
        f"{THIS}::test_backfill_create_queues_one_run_per_interval"
    ),
    "airflow dags unpause crm_books_sync": runs(
        f"{THIS}::test_backfill_create_queues_one_run_per_interval"
    ),
    "airflow dags unpause books_merge_customers": runs(
        f"{THIS}::test_dags_trigger_command_queues_a_merge_run_with_its_conf"
    ),
    "airflow dags list-runs crm_books_sync": runs(
        f"{THIS}::test_backfill_create_queues_one_run_per_interval"
    ),
    "python -m crm_books documents <crm account or contact id>": runs(
        f"{DOCUMENTS}::test_cli_prints_an_accounts_documents",
        note="through crm_books.__main__.main",
    ),
    "python -m crm_books documents 5843104000000111001": runs(
        f"{DOCUMENTS}::test_cli_prints_an_accounts_documents",
        note="through crm_books.__main__.main",
    ),
    "python -m crm_books documents 5843104000000111001 --json": runs(
        f"{DOCUMENTS}::test_cli_json_for_an_individual_contact", note="through main(), a contact id"
    ),
    "python -m crm_books documents 999 ; echo $?": runs(
        f"{THIS}::test_documents_command_for_an_unknown_id_prints_an_error_and_exits_1",
        f"{DOCUMENTS}::test_cli_unknown_id_exits_1_and_a_known_id_without_documents_exits_0",
    ),
    "python -m zoho_sandbox serve --port 8765 --seed 7 --accounts 1000 --contacts 3000"
    " --deals 500": runs(f"{THIS}::test_sandbox_serve_command_serves_the_documented_sizes"),
    # docs/merge.md
    'airflow dags trigger books_merge_customers --conf \'{"master_customer_id": 12,'
    ' "merge_customer_ids": [31, 47]}\'': runs(
        f"{THIS}::test_dags_trigger_command_queues_a_merge_run_with_its_conf"
    ),
    # docs/operating.md
    "airflow api-server": runs(MAKE_AIRFLOW, note="one of the parts make airflow starts"),
    "airflow scheduler": runs(MAKE_AIRFLOW, note="one of the parts make airflow starts"),
    "airflow dag-processor": runs(MAKE_AIRFLOW, note="one of the parts make airflow starts"),
    "airflow triggerer": runs(MAKE_AIRFLOW, note="one of the parts make airflow starts"),
    "python -m devtools.local_airflow --help": runs(
        f"{THIS}::test_local_airflow_help_lists_the_documented_options"
    ),
    "TOKEN=$(curl -s -X POST http://127.0.0.1:8080/auth/token -H 'Content-Type: application/json'"
    ' -d \'{"username": "admin", "password": "admin"}\' | python -c \'import json, sys;'
    ' print(json.load(sys.stdin)["access_token"])\')': same(
        REST_TRIGGER, note="the same POST /auth/token with requests, on free ports"
    ),
    'curl -s -X PATCH http://127.0.0.1:8080/api/v2/dags/crm_books_sync -H "Authorization: Bearer'
    " $TOKEN\" -H 'Content-Type: application/json' -d '{\"is_paused\": false}'": same(
        REST_TRIGGER, note="the same PATCH with requests, on free ports"
    ),
    'curl -s -X POST http://127.0.0.1:8080/api/v2/dags/crm_books_sync/dagRuns -H "Authorization:'
    ' Bearer $TOKEN" -H \'Content-Type: application/json\' -d "{\\"logical_date\\":'
    ' \\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\\", \\"conf\\": {}}"': same(
        REST_TRIGGER, note="the same POST with requests, then polls the run to success"
    ),
    'curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/crm-books/': same(
        f"{STACK}::test_page_in_headless_chromium_matches_the_warehouse",
        f"{STACK}::test_plugin_routes_refuse_anonymous_requests_on_the_live_server",
        note="the page fetched with and without a token, on free ports",
    ),
    ".venv/bin/python -m pytest tests/ui -q": runs(CI),
    '.venv/bin/python -m pytest tests/ui -q -m "not slow"': runs(CI, note="a subset of make test"),
    "tests/ui/install_chromium.sh": not_here(
        "apt-get install needs root and Debian's mirrors; .ci/run installs chromium the same way"
    ),
    # docs/troubleshooting.md
    "python -m devtools.local_airflow --timeout 400": runs(
        MAKE_AIRFLOW, note="the test passes --timeout 240"
    ),
    ".venv/bin/python -m devtools.local_airflow": runs(
        MAKE_AIRFLOW, note="the test runs it with the venv's interpreter"
    ),
    "airflow plugins": runs(f"{THIS}::test_airflow_plugins_lists_the_crm_books_page"),
    "airflow … failed; see .airflow/logs/processes/airflow-db-migrate.log": not_here(
        "not a command: a quoted error message of make airflow"
    ),
    # docs/benchmarks.md
    "python -m devtools.bench": runs(BENCH_CLI),
    ".venv/bin/python -m devtools.bench --help": runs(
        f"{THIS}::test_bench_help_lists_the_documented_options"
    ),
    ".venv/bin/python -m devtools.bench --records 100000 --warehouse sqlite:////tmp/bench.db": runs(
        BENCH_CLI, note="300 records, a file under the test's tmp_path"
    ),
    ".venv/bin/python -m devtools.bench --records 100000 --warehouse"
    " postgresql://user@host/emptydb": runs(
        "tests/integration/test_bench_smoke.py::"
        "test_small_bench_reports_every_phase_and_loads_every_customer",
        note="run_bench on an empty PostgreSQL database, as this command does",
    ),
    "python -m zoho_sandbox serve --seed 7 --accounts A --contacts C --deals 0"
    " --profile zoho [knob flags]": runs(BENCH_CLI, note="the bench starts the sandbox this way"),
    ".venv/bin/python -m devtools.bench --records 100000 --profile fast": runs(
        "tests/integration/test_bench_smoke.py::"
        "test_small_bench_reports_every_phase_and_loads_every_customer",
        note="the smoke run is the fast profile, at 500 records",
    ),
    "python -m devtools.bench.incremental_extract --records 1000000 --runs 3 [--timeline]": runs(
        "tests/integration/test_incremental_extract_harness.py::"
        "test_the_harness_reads_every_changed_record_once_and_reports_the_timeline",
        note="3,000 records, one run, with --timeline",
    ),
    ".venv/bin/python -m devtools.bench --records 100000 --latency-ms 20 --jitter-ms 0": runs(
        "tests/integration/test_bench_smoke.py::"
        "test_zoho_profile_reports_bounds_ratios_credits_and_one_grant",
        note="300 records on the zoho profile at 20 ms, jitter 0",
    ),
    "python -m zoho_sandbox serve --profile zoho --port 8765": runs(
        "tests/integration/test_sandbox_zoho_profile.py::"
        "test_serve_profile_zoho_starts_the_cli_with_zohos_limits_and_the_flags_given",
        note="through sandbox_process, with small knobs as flags",
    ),
}


def references(entry: Entry) -> list[str]:
    return [ref for ref in (*entry.runs, *entry.same) if "::" in ref]


# --- the table matches the docs ----------------------------------------------------------------


def test_every_documented_command_has_an_entry() -> None:
    missing = {c: where for c, where in documented_commands().items() if c not in COMMANDS}
    assert not missing, "add these to COMMANDS with the test that runs them:\n" + "\n".join(
        f"  {where}: {command!r}" for command, where in sorted(missing.items())
    )


def test_every_entry_is_still_documented() -> None:
    stale = sorted(set(COMMANDS) - set(documented_commands()))
    assert not stale, f"no longer in README.md or docs/: {stale}"


def test_every_entry_is_run_or_says_why_not() -> None:
    vague = [c for c, e in COMMANDS.items() if not (e.runs or e.reason or references(e))]
    assert not vague, f"name the test that runs these, or why they can't run here: {vague}"


@pytest.mark.parametrize(
    "ref", sorted({ref for entry in COMMANDS.values() for ref in references(entry)})
)
def test_referenced_test_exists(ref: str) -> None:
    path, function = ref.split("::")
    assert (ROOT / path).is_file(), path
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    assert function.startswith("test_") and callable(getattr(module, function, None)), ref


def test_commands_are_read_from_blocks_and_inline_spans() -> None:
    markdown = (
        "Run `make demo` or `AIRFLOW_PORT=1 make airflow`, not `ruff check`.\n"
        "Or `airflow dags trigger x --conf\n'{}'`.\n\n"
        "```bash\n"
        "make test   # every test\n"
        "            # (a comment line)\n"
        'curl -d \'{"a": "#1"}\' \\\n'
        "  http://x/\n"
        "```\n"
        "```sql\nSELECT 1;\n```\n"
        "```console\n$ python -m crm_books documents 1   # a comment\noutput line\n```\n"
    )
    assert commands_in_markdown(markdown) == [
        "make test",
        'curl -d \'{"a": "#1"}\' http://x/',
        "python -m crm_books documents 1",
        "make demo",
        "AIRFLOW_PORT=1 make airflow",
        "airflow dags trigger x --conf '{}'",
    ]


# --- running the documented commands -----------------------------------------------------------


def documented(prefix: str) -> str:
    """The one documented command starting with prefix, exactly as the docs write it."""
    matches = [c for c in documented_commands() if c.startswith(prefix)]
    assert len(matches) == 1, (prefix, matches)
    return matches[0]


def argv(command: str, replacements: dict[str, str] | None = None) -> list[str]:
    """The command's argv, placeholders replaced, `python`/.venv's python as this interpreter."""
    for old, new in (replacements or {}).items():
        assert old in command, (old, command)
        command = command.replace(old, new)
    args = shlex.split(command)
    if args[0] in {"python", ".venv/bin/python"}:
        args[0] = sys.executable
    return args


def run(
    args: list[str], env: dict[str, str], timeout: float = 180, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (
        f"{args[:4]} exited {result.returncode}:\n{result.stderr[-3000:]}"
    )
    return result


def json_output(stdout: str) -> Any:
    """The JSON printed by `airflow ... -o json` (its warnings can go to stdout too)."""
    [line] = [line for line in stdout.splitlines() if line.startswith(("[", "{"))]
    return json.loads(line)


def base_env(**extra: str) -> dict[str, str]:
    """This environment with the venv's bin/ first on PATH, so `airflow` is the venv's."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("BOOKS_WAREHOUSE_URI", None)
    env.update(extra)
    return env


@pytest.mark.slow
def test_migrate_command_creates_then_applies_nothing(warehouse_uri: str) -> None:
    # As the README writes it: the warehouse comes from the books_warehouse connection.
    env = base_env(AIRFLOW_CONN_BOOKS_WAREHOUSE=warehouse_uri)
    first = run(argv(documented("python -m crm_books migrate")), env, timeout=120)
    applied = re.search(r"(\d+) migration\(s\) applied \(([^)]*)\)", first.stdout)
    assert applied, first.stdout
    versions = [name.split("_", 1)[0] for name in applied.group(2).split(", ")]
    assert versions[0] == "0001" and int(applied.group(1)) == len(versions)

    from crm_books.warehouse.engine import create_warehouse_engine

    engine = create_warehouse_engine(warehouse_uri)
    try:
        with engine.connect() as conn:
            recorded = conn.execute(text("SELECT version FROM books.schema_migrations")).scalars()
            assert sorted(recorded) == sorted(versions)
            for table in ("customers", "contact_persons", "sync_runs", "rejected_records"):
                assert conn.execute(text(f"SELECT COUNT(*) FROM books.{table}")).scalar() == 0
    finally:
        engine.dispose()
    # `--warehouse URI` names the warehouse (before the subcommand: `migrate` has no option of
    # its own); a second run finds nothing to do.
    second = run(argv(f"python -m crm_books --warehouse {warehouse_uri} migrate"), base_env())
    assert "0 migration(s) applied" in second.stdout


def test_documents_command_for_an_unknown_id_prints_an_error_and_exits_1(
    warehouse: Engine, warehouse_uri: str
) -> None:
    command = documented("python -m crm_books documents 999")
    assert command.startswith("python ")
    # Through bash, as docs/merge.md shows it; the warehouse comes from $BOOKS_WAREHOUSE_URI.
    script = shlex.quote(sys.executable) + command.removeprefix("python")
    shown = run(["bash", "-c", script], base_env(BOOKS_WAREHOUSE_URI=warehouse_uri), timeout=60)
    assert shown.stdout.splitlines()[-1] == "1"
    assert "error: CRM id '999' is not known to Books" in shown.stderr


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a fresh Airflow home: migrated SQLite metadata DB, the project's DAGs
    parsed into it (as the dag-processor would), and no zoho_crm connection yet."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = base_env(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )
    env.pop("AIRFLOW_CONN_ZOHO_CRM", None)
    run([sys.executable, "-m", "airflow", "db", "migrate"], env, timeout=300)
    run(["airflow", "dags", "reserialize"], env, timeout=300)
    return env


def readme_block(first_line: str) -> list[str]:
    """The commands of the README's ```bash block that starts with ``first_line``."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    [block] = [b for b in blocks if b.startswith(first_line)]
    return shell_block_commands(block.splitlines())


@pytest.mark.slow
def test_cli_setup_reaches_the_make_airflow_metadata_db(tmp_path: Path) -> None:
    """The README's CLI block, in a shell, in a project folder whose .airflow is what
    `make airflow` prepares: the CLI sees the stack's seeded connections, not ~/airflow."""
    from devtools.local_airflow import LocalAirflow, StackConfig

    project = tmp_path / "project"
    project.mkdir()
    (project / ".venv").symlink_to(VENV_BIN.parent)
    # A shell as a user has it: none of the test session's Airflow settings, another HOME.
    shell = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CRM_BOOKS_"))}
    shell.update(HOME=str(tmp_path / "home"), PATH="/usr/bin:/bin")
    config = StackConfig(home=project / ".airflow", warehouse_path=project / "books.db")
    LocalAirflow(config, base_env=shell).prepare()
    script = " && ".join(readme_block("export AIRFLOW_HOME"))
    listed = run(["bash", "-c", f"{script} -o plain"], shell, timeout=300, cwd=project)
    assert "zoho_crm" in listed.stdout and "books_warehouse" in listed.stdout
    assert not (tmp_path / "home" / "airflow").exists()  # nothing went to the default home


@pytest.mark.slow
def test_connections_add_command_makes_a_connection_the_hook_reads(
    airflow_home: dict[str, str],
) -> None:
    from airflow.sdk.definitions.connection import Connection

    from crm_books.zoho.hook import credentials_from_connection

    command = documented("airflow connections add zoho_crm")
    run(argv(command, {'"refresh_token": "…"': '"refresh_token": "1000.refresh"'}), airflow_home)
    got = run(["airflow", "connections", "get", "zoho_crm", "-o", "json"], airflow_home)
    [stored] = json_output(got.stdout)
    conn = Connection(
        conn_id=stored["conn_id"],
        conn_type=stored["conn_type"],
        host=stored["host"],
        login=stored["login"],
        password=stored["password"],
        extra=json.dumps(stored["extra_dejson"]),
    )
    credentials = credentials_from_connection(conn)
    assert credentials.api_base_url.startswith("https://www.zohoapis.com")
    assert credentials.accounts_url == "https://accounts.zoho.com"
    assert (credentials.client_id, credentials.client_secret) == ("CLIENT_ID", "CLIENT_SECRET")
    assert credentials.refresh_token == "1000.refresh"


def twelve_hour_dates(first: str, last: str) -> list[str]:
    """Logical dates of crm_books_sync (`0 */12 * * *`) from first to last day, both inclusive."""
    from datetime import date, timedelta

    start, end = date.fromisoformat(first), date.fromisoformat(last)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    dates = [f"{day}T{hour}:00:00+00:00" for day in days for hour in ("00", "12")]
    return dates[:-1]  # --to-date is a date at 00:00: the last day's noon run is past it


# What the scheduler's loop asks before it starts queued runs (a paused DAG's runs are left out).
STARTABLE_RUNS = """
import json, sys
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
with create_session() as session:
    runs = DagRun.get_queued_dag_runs_to_set_running(session)
    print(json.dumps(sorted(r.run_id for r in runs if r.dag_id == sys.argv[1])))
"""


def startable_runs(env: dict[str, str], dag_id: str) -> list[str]:
    shown = run([sys.executable, "-c", STARTABLE_RUNS, dag_id], env, timeout=120)
    return list(json_output(shown.stdout))


@pytest.mark.slow
def test_backfill_create_queues_one_run_per_interval(airflow_home: dict[str, str]) -> None:
    backfill = documented("airflow backfill create")
    run(argv(backfill), airflow_home)
    assert startable_runs(airflow_home, "crm_books_sync") == []  # DAGs start paused
    run(argv(documented("airflow dags unpause crm_books_sync")), airflow_home)
    listed = run(argv(documented("airflow dags list-runs crm_books_sync")), airflow_home)
    rows = [
        [cell.strip() for cell in line.split("|")]
        for line in listed.stdout.splitlines()
        if line.startswith("crm_books_sync ")
    ]
    # columns: dag_id | run_id | state | run_after | logical_date | start_date | end_date
    flags = dict(zip(shlex.split(backfill)[3::2], shlex.split(backfill)[4::2], strict=True))
    expected = twelve_hour_dates(flags["--from-date"], flags["--to-date"])
    assert sorted(row[4] for row in rows) == expected
    assert {row[2] for row in rows} == {"queued"}
    assert all(row[1].startswith("backfill__") for row in rows)
    # Unpaused, every backfill run is one the scheduler starts.
    assert startable_runs(airflow_home, "crm_books_sync") == sorted(row[1] for row in rows)
    # The backfill runs them one at a time (backfill create ignores the DAG's max_active_runs).
    import sqlite3

    database = airflow_home["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT max_active_runs FROM backfill").fetchall() == [(1,)]


@pytest.mark.slow
def test_dags_trigger_command_queues_a_merge_run_with_its_conf(
    airflow_home: dict[str, str],
) -> None:
    command = documented("airflow dags trigger books_merge_customers")
    run(argv(command), airflow_home)
    listed = run(
        ["airflow", "dags", "list-runs", "books_merge_customers", "-o", "json"], airflow_home
    )
    [dag_run] = json_output(listed.stdout)
    assert dag_run["state"] == "queued" and dag_run["run_id"].startswith("manual__")
    import sqlite3

    database = airflow_home["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        [(conf,)] = db.execute(
            "SELECT conf FROM dag_run WHERE run_id = ?", (dag_run["run_id"],)
        ).fetchall()
    assert json.loads(conf) == {"master_customer_id": 12, "merge_customer_ids": [31, 47]}
    assert startable_runs(airflow_home, "books_merge_customers") == []  # paused: it waits
    run(argv(documented("airflow dags unpause books_merge_customers")), airflow_home)
    assert startable_runs(airflow_home, "books_merge_customers") == [dag_run["run_id"]]


@pytest.mark.slow
def test_airflow_plugins_lists_the_crm_books_page(airflow_home: dict[str, str]) -> None:
    listed = run(argv(documented("airflow plugins")), airflow_home)
    assert "crm_books_ui" in listed.stdout


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sandbox_serve_command_serves_the_documented_sizes() -> None:
    import time

    import requests

    port = free_port()
    command = documented("python -m zoho_sandbox serve --port 8765")
    proc = subprocess.Popen(
        argv(command, {"--port 8765": f"--port {port}"}),
        env=base_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        health = None
        deadline = time.monotonic() + 60
        while health is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/__sandbox/health", timeout=2)
            except requests.ConnectionError:
                time.sleep(0.2)
        assert health is not None, proc.stderr.read().decode() if proc.stderr else ""
        assert health.json()["counts"] == {"Accounts": 1000, "Contacts": 3000, "Deals": 500}
    finally:
        stop(proc, timeout=10)


def documented_options(markdown: str, section_start: str) -> list[str]:
    """The `--option` names written in the docs after section_start, up to the next blank line."""
    text_after = markdown.split(section_start, 1)[1].split("\n\n", 1)[0]
    return sorted(set(re.findall(r"`(--[a-z-]+)", text_after)))


def test_local_airflow_help_lists_the_documented_options() -> None:
    operating = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    options = documented_options(operating, "| option | default | what |")
    assert len(options) >= 7, options
    shown = run(argv(documented("python -m devtools.local_airflow --help")), base_env(), 60)
    assert [o for o in options if o not in shown.stdout] == []


def test_bench_help_lists_the_documented_options() -> None:
    benchmarks = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    options = documented_options(benchmarks, "Options (the Makefile")
    assert "--records" in options and len(options) >= 8, options
    shown = run(argv(documented(".venv/bin/python -m devtools.bench --help")), base_env(), 60)
    assert [o for o in options if o not in shown.stdout] == []


@pytest.mark.slow
def test_bench_cli_runs_the_documented_command_at_a_small_size(tmp_path: Path) -> None:
    command = documented(".venv/bin/python -m devtools.bench --records 100000 --warehouse sqlite")
    args = argv(command, {"100000": "300", "/tmp/bench.db": str(tmp_path / "bench.db")})
    args += ["--baseline-records", "50", "--workflow-deals", "200", "--out-dir", str(tmp_path)]
    shown = run(args, base_env(), timeout=300)
    assert "| full sync | **total** | 300 |" in shown.stdout
    assert [p.read_text(encoding="utf-8").strip() for p in tmp_path.glob("*.md")] == [
        shown.stdout.strip()
    ]


@pytest.mark.slow
def test_make_demo_command_runs_every_dag_and_prints_what_landed(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # -o: the venv this test runs in is the one make would build; the demo data goes to tmp_path.
    args = [*argv(documented("make demo")), "-o", ".venv/.installed"]
    shown = run(args, base_env(CRM_BOOKS_DATA_DIR=str(tmp_path)), timeout=600)
    assert "demo finished: all runs succeeded" in shown.stdout
    assert "not built yet" not in shown.stdout  # every DAG the demo runs exists
    succeeded = re.findall(r"^  (\w+) @ [^:]+:\d\d: success in", shown.stdout, re.MULTILINE)
    assert succeeded == ["crm_books_sync", "potential_reconcile", "crm_books_sync"]
    assert (tmp_path / "demo" / "books.db").is_file()
