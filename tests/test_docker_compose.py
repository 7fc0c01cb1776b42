"""What an operator relies on in docker-compose.yaml, the Dockerfile and airflow_settings.yaml."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from crm_books import config

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"

AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
ALL_AIRFLOW = (*AIRFLOW_SERVICES, "airflow-init")
SERVICES = (*ALL_AIRFLOW, "postgres", "redis", "books-warehouse", "crm-sandbox")
# Services that exit by design; everything else must report its health.
ONE_SHOT = {"airflow-init", "airflow-cli"}
PROJECT_IMAGE = "crm-books-airflow"

_VAR = re.compile(r"\$(?:(\$)|\{(\w+)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}|(\w+))")

REAL_ORG_ENV = {
    "ZOHO_CRM_API_URL": "https://www.zohoapis.eu",
    "ZOHO_ACCOUNTS_URL": "https://accounts.zoho.eu",
    "ZOHO_CLIENT_ID": "1000.REALCLIENT",
    "ZOHO_CLIENT_SECRET": "real-secret",
    "ZOHO_REFRESH_TOKEN": "1000.real-refresh",
}


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose-style ${VAR}, ${VAR:-default}, ${VAR-default} and $$ substitution, recursively."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        escaped, name, operator, default, bare = match.groups()
        if escaped:
            return "$"
        if bare:
            return env.get(bare, "")
        current = env.get(name)
        if operator == ":-":
            return current if current else interpolate(default, env)
        if operator == "-":
            return current if current is not None else interpolate(default, env)
        if operator in {":?", "?"} and not current:
            raise KeyError(f"{name} is required: {default}")
        return current or ""

    return _VAR.sub(substitute, value)


@cache
def raw_compose() -> dict[str, Any]:
    """The file as written (YAML anchors and merge keys resolved, ${...} left in place)."""
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The file as docker compose sees it with `env` as the shell/.env environment."""
    result = interpolate(raw_compose(), env or {})
    assert isinstance(result, dict)
    return result


def service(name: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    services = compose(env)["services"]
    assert name in services, f"docker-compose.yaml has no service {name!r}"
    svc = services[name]
    assert isinstance(svc, dict)
    return svc


def environment(name: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A service's environment as a dict of strings, in either compose spelling."""
    raw = service(name, env).get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): str(v) for k, v in raw.items()}


def depends_on(name: str) -> dict[str, str]:
    """{dependency: condition} for a service (a list means service_started)."""
    raw = service(name).get("depends_on", {})
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {dep: spec.get("condition", "service_started") for dep, spec in raw.items()}


def command_text(name: str) -> str:
    cmd = service(name).get("command", "")
    return " ".join(cmd) if isinstance(cmd, list) else str(cmd)


def healthcheck_text(name: str) -> str:
    test = service(name).get("healthcheck", {}).get("test", "")
    return " ".join(test) if isinstance(test, list) else str(test)


def lock_version(package: str) -> str:
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if line.lower().startswith(f"{package}=="):
            return line.split("==", 1)[1].split(";")[0].strip()
    raise AssertionError(f"{package} is not pinned in requirements/lock.txt")


SEED_BEGIN = "# --- seed settings"
SEED_END = "# --- end of seed settings"
# Prints what the metadata DB holds, read the way tasks read it (after the env-var backend).
DUMP_SETTINGS = """
import json
from airflow.models.connection import Connection
from airflow.models.variable import Variable
from airflow.utils.session import create_session
fields = ("conn_type", "host", "login", "password", "schema", "port", "extra_dejson")
with create_session() as session:
    conns = {c.conn_id: {f: getattr(c, f) for f in fields} for c in session.query(Connection)}
    variables = {v.key: v.val for v in session.query(Variable)}
print(json.dumps({"connections": conns, "variables": variables}))
"""


def seed_script(env: Mapping[str, str] | None = None) -> str:
    """The seeding part of airflow-init's command, as docker compose hands it to bash."""
    script = service("airflow-init", env)["command"][-1]
    start, end = script.index(SEED_BEGIN), script.index(SEED_END)
    return str(script[start:end])


class MetadataDB:
    """A throwaway Airflow metadata database (SQLite) driven by the venv's airflow CLI."""

    def __init__(self, home: Path) -> None:
        venv_bin = Path(sys.executable).parent
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CRM_BOOKS_"))
        }
        self.env.update(
            PATH=f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            AIRFLOW_HOME=str(home),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        )
        self.run(["airflow", "db", "migrate"])

    def run(
        self, argv: list[str], extra: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            argv,
            env={**self.env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def init_seed(self, dotenv: Mapping[str, str]) -> None:
        """airflow-init's seeding, with /entrypoint (the image's wrapper) left out."""
        script = "set -euo pipefail\n" + seed_script(dotenv).replace("/entrypoint ", "")
        # The init service's settings the script reads; not its Airflow config (the DB is ours).
        inputs = {k: v for k, v in environment("airflow-init", dotenv).items() if k in script}
        assert not any(k.startswith("AIRFLOW") for k in inputs), inputs
        self.run(["bash", "-c", script], inputs)

    def settings(self) -> dict[str, Any]:
        shown = self.run([sys.executable, "-c", DUMP_SETTINGS])
        return dict(json.loads(shown.stdout.strip().splitlines()[-1]))


def seeded_connection(stored: Mapping[str, Any], conn_id: str) -> Any:
    """The Connection a task gets for conn_id from what the metadata DB holds."""
    from airflow.sdk import Connection

    fields = dict(stored["connections"][conn_id])
    extra = fields.pop("extra_dejson")
    return Connection(conn_id=conn_id, extra=json.dumps(extra) if extra else None, **fields)


# --- services and the executor -------------------------------------------------------------


def test_all_services_of_the_production_shape_are_defined() -> None:
    missing = set(SERVICES) - set(compose()["services"])
    assert not missing, f"missing services: {sorted(missing)}"


def test_executor_is_celery_with_the_redis_service_as_broker() -> None:
    for name in ALL_AIRFLOW:
        env = environment(name)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        broker = env["AIRFLOW__CELERY__BROKER_URL"]
        assert re.fullmatch(r"redis://(:[^@]*@)?redis:6379/\d+", broker), broker
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://"), name
    assert service("redis")["image"].startswith("redis:")


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("airflow-apiserver", "api-server"),
        ("airflow-scheduler", "scheduler"),
        ("airflow-dag-processor", "dag-processor"),
        ("airflow-triggerer", "triggerer"),
        ("airflow-worker", "celery worker"),
    ],
)
def test_each_airflow_component_runs_its_command(name: str, command: str) -> None:
    assert command_text(name) == command


def test_ui_is_published_on_port_8080() -> None:
    ports = [str(p) for p in service("airflow-apiserver").get("ports", [])]
    assert "8080:8080" in ports


def test_every_airflow_service_runs_the_project_image_built_from_the_dockerfile() -> None:
    for name in (*ALL_AIRFLOW, "crm-sandbox"):
        svc = service(name)
        assert svc["image"].split(":")[0] == PROJECT_IMAGE, name
        assert svc["build"]["context"] == ".", name
        assert svc["build"].get("dockerfile", "Dockerfile") == "Dockerfile", name


def test_airflow_settings_an_operator_relies_on() -> None:
    for name in ALL_AIRFLOW:
        env = environment(name)
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            "http://airflow-apiserver:8080/execution/"
        ), name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"], name
        assert env["GX_ANALYTICS_ENABLED"] == "False", name
        assert env["PYTHONPATH"] == "/opt/airflow/plugins", name
        assert env["CRM_BOOKS_HOME"] == "/opt/airflow", name
        parallelism = int(env["AIRFLOW__CORE__PARALLELISM"])
        concurrency = int(env["AIRFLOW__CELERY__WORKER_CONCURRENCY"])
        assert 1 <= concurrency <= parallelism <= 64, (concurrency, parallelism)


def test_task_processes_and_api_server_share_one_jwt_secret() -> None:
    # Workers' task processes fail to authenticate to the Execution API otherwise.
    secrets = {environment(name)["AIRFLOW__API_AUTH__JWT_SECRET"] for name in ALL_AIRFLOW}
    assert len(secrets) == 1
    overridden = {"AIRFLOW__API_AUTH__JWT_SECRET": "from-dotenv"}
    assert environment("airflow-worker", overridden)["AIRFLOW__API_AUTH__JWT_SECRET"] == (
        "from-dotenv"
    )


# --- health and start order ----------------------------------------------------------------


def long_running_services() -> list[str]:
    return sorted(set(raw_compose()["services"]) - ONE_SHOT)


@pytest.mark.parametrize("name", long_running_services())
def test_long_running_service_has_a_healthcheck(name: str) -> None:
    check = service(name).get("healthcheck")
    assert check, f"{name} has no healthcheck"
    assert not check.get("disable"), name
    assert check["test"] and check["test"] != ["NONE"], name


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("airflow-apiserver", "http://localhost:8080/api/v2/monitor/health"),
        ("airflow-scheduler", "http://localhost:8974/health"),
        ("airflow-dag-processor", "airflow jobs check --job-type DagProcessorJob"),
        ("airflow-triggerer", "airflow jobs check --job-type TriggererJob"),
        ("airflow-worker", "inspect ping"),
        ("redis", "redis-cli ping"),
        ("postgres", "pg_isready"),
        ("books-warehouse", "pg_isready"),
        ("crm-sandbox", "http://localhost:8765/__sandbox/health"),
    ],
)
def test_healthcheck_probes_the_component(name: str, probe: str) -> None:
    assert probe in healthcheck_text(name)


def test_scheduler_health_server_is_enabled() -> None:
    # The scheduler's :8974/health probe only answers when this is on.
    env = environment("airflow-scheduler")
    assert env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"].lower() == "true"


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_component_waits_for_init_to_finish(name: str) -> None:
    deps = depends_on(name)
    assert deps.get("airflow-init") == "service_completed_successfully"
    assert deps.get("postgres") == "service_healthy"
    assert deps.get("redis") == "service_healthy"


def test_init_waits_for_both_databases_and_redis() -> None:
    deps = depends_on("airflow-init")
    assert deps.get("postgres") == "service_healthy"
    assert deps.get("redis") == "service_healthy"
    assert deps.get("books-warehouse") == "service_healthy"


def test_workers_wait_for_redis_the_api_server_and_the_warehouse() -> None:
    deps = depends_on("airflow-worker")
    assert deps.get("redis") == "service_healthy"
    assert deps.get("airflow-apiserver") == "service_healthy"
    assert deps.get("books-warehouse") == "service_healthy"


def test_dependencies_exist_can_be_met_and_have_no_cycle() -> None:
    services = compose()["services"]
    graph = {name: depends_on(name) for name in services}
    for name, deps in graph.items():
        for dep, condition in deps.items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            if condition == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits forever on {dep}"
            if condition == "service_completed_successfully":
                assert dep in ONE_SHOT, f"{name} waits for {dep} to exit, but it never does"

    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str) -> None:
        assert node not in visiting, f"dependency cycle through {node}"
        if node in done:
            return
        visiting.add(node)
        for dep in graph[node]:
            visit(dep)
        visiting.discard(node)
        done.add(node)

    for node in graph:
        visit(node)


def test_init_migrates_airflow_then_the_warehouse() -> None:
    script = command_text("airflow-init")
    airflow_migrate = script.find("airflow db migrate")
    warehouse_migrate = script.find("python -m crm_books migrate")
    assert airflow_migrate >= 0, "airflow-init does not migrate Airflow's database"
    assert warehouse_migrate > airflow_migrate, "warehouse migration missing or runs first"
    assert "set -e" in script, "a failed step must fail airflow-init"


def test_init_creates_the_documented_login() -> None:
    env = environment("airflow-init")
    assert env["_AIRFLOW_WWW_USER_USERNAME"] == "airflow"
    assert env["_AIRFLOW_WWW_USER_PASSWORD"] == "airflow"
    assert "airflow users create" in command_text("airflow-init")


# --- databases, volumes and mounts ---------------------------------------------------------


def test_warehouse_postgres_is_separate_from_the_metadata_postgres() -> None:
    warehouse, metadata = service("books-warehouse"), service("postgres")
    assert warehouse["image"] == "postgres:15"
    warehouse_volumes = {v.split(":")[0] for v in warehouse["volumes"]}
    metadata_volumes = {v.split(":")[0] for v in metadata["volumes"]}
    assert warehouse_volumes and metadata_volumes
    assert not warehouse_volumes & metadata_volumes, "the two databases share a volume"
    declared = set(compose()["volumes"])
    assert warehouse_volumes <= declared and metadata_volumes <= declared
    # Airflow's metadata lives on `postgres`, the Books data on `books-warehouse`.
    metadata_url = environment("airflow-scheduler")["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert re.search(r"@postgres(:5432)?/", metadata_url), metadata_url


@pytest.mark.parametrize("name", ALL_AIRFLOW)
@pytest.mark.parametrize("folder", ["dags", "plugins", "include"])
def test_project_folder_is_mounted(name: str, folder: str) -> None:
    mounts = {str(v).removesuffix(":ro").removesuffix(":rw") for v in service(name)["volumes"]}
    assert f"./{folder}:/opt/airflow/{folder}" in mounts
    assert (ROOT / folder).is_dir()


def test_project_dir_is_configurable() -> None:
    volumes = service("airflow-worker", {"AIRFLOW_PROJ_DIR": "/srv/crm-books"})["volumes"]
    assert "/srv/crm-books/dags:/opt/airflow/dags" in volumes


# --- connections and variables -------------------------------------------------------------


# A first start with a .env for a real org and a renamed warehouse database.
FIRST_DOTENV = {
    **REAL_ORG_ENV,
    "BOOKS_WAREHOUSE_PASSWORD": "s3cret",
    "BOOKS_WAREHOUSE_DB": "books_prod",
}


@pytest.fixture(scope="module")
def metadata_db(tmp_path_factory: pytest.TempPathFactory) -> MetadataDB:
    return MetadataDB(tmp_path_factory.mktemp("compose-metadata"))


@pytest.fixture(scope="module")
def seeded(metadata_db: MetadataDB) -> dict[str, Any]:
    """What the metadata DB holds after airflow-init's seeding ran on the first start."""
    metadata_db.init_seed(FIRST_DOTENV)
    return metadata_db.settings()


def test_no_service_sets_connections_or_variables_that_would_mask_the_ui() -> None:
    # Airflow reads AIRFLOW_CONN_* / AIRFLOW_VAR_* before its database: Admin -> Variables could
    # not switch the workflow off (issue 11, defect 7).
    for name in compose()["services"]:
        masking = [k for k in environment(name) if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))]
        assert not masking, f"{name} sets {masking}"


@pytest.mark.slow
def test_init_seeds_the_contract_connections_and_variable_into_the_metadata_db(
    seeded: dict[str, Any],
) -> None:
    assert set(seeded["connections"]) == {config.CRM_CONN_ID, config.WAREHOUSE_CONN_ID}
    assert seeded["variables"] == {config.WORKFLOW_VARIABLE: "estimate"}


@pytest.mark.slow
def test_init_seeding_keeps_what_a_user_changed(
    metadata_db: MetadataDB, seeded: dict[str, Any]
) -> None:
    # A user switches the workflow off, and deletes zoho_crm to have it seeded again.
    metadata_db.run(["airflow", "variables", "set", config.WORKFLOW_VARIABLE, "off"])
    metadata_db.run(["airflow", "connections", "delete", config.CRM_CONN_ID])
    # The next `docker compose up` runs airflow-init again, now with the sandbox defaults in .env.
    metadata_db.init_seed({})
    after = metadata_db.settings()
    assert after["variables"] == {config.WORKFLOW_VARIABLE: "off"}
    warehouse = config.WAREHOUSE_CONN_ID
    assert after["connections"][warehouse] == seeded["connections"][warehouse]  # still s3cret
    crm = seeded_connection(after, config.CRM_CONN_ID)
    assert (crm.host, crm.login) == ("http://crm-sandbox:8765", "sandbox-client")


def test_zoho_crm_connection_defaults_to_the_sandbox_service() -> None:
    env = environment("airflow-init")
    assert env["ZOHO_CRM_API_URL"] == env["ZOHO_ACCOUNTS_URL"] == "http://crm-sandbox:8765"
    assert (env["ZOHO_CLIENT_ID"], env["ZOHO_CLIENT_SECRET"]) == (
        "sandbox-client",
        "sandbox-secret",
    )
    assert env["ZOHO_REFRESH_TOKEN"] == "sandbox-refresh"
    # The port in the URL is the one the sandbox service listens on.
    assert "--port 8765" in command_text("crm-sandbox")


@pytest.mark.slow
def test_zoho_crm_connection_feeds_the_project_client(seeded: dict[str, Any]) -> None:
    from crm_books.zoho.hook import credentials_from_connection

    creds = credentials_from_connection(seeded_connection(seeded, config.CRM_CONN_ID))
    assert creds.api_base_url == "https://www.zohoapis.eu"
    assert creds.accounts_url == "https://accounts.zoho.eu"
    assert (creds.client_id, creds.client_secret) == ("1000.REALCLIENT", "real-secret")
    assert creds.refresh_token == "1000.real-refresh"


@pytest.mark.slow
def test_zoho_crm_connection_can_target_a_real_org_from_dotenv(seeded: dict[str, Any]) -> None:
    conn = seeded_connection(seeded, config.CRM_CONN_ID)
    assert conn.conn_type == "http"
    assert conn.host == "https://www.zohoapis.eu"
    assert (conn.login, conn.password) == ("1000.REALCLIENT", "real-secret")
    assert conn.extra_dejson == {
        "refresh_token": "1000.real-refresh",
        "accounts_url": "https://accounts.zoho.eu",
    }


@pytest.mark.slow
def test_books_warehouse_connection_reaches_the_warehouse_service(
    seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_books.warehouse.engine import warehouse_uri

    conn = seeded_connection(seeded, config.WAREHOUSE_CONN_ID)
    assert conn.conn_type == "postgres"
    pg_env = environment("books-warehouse", FIRST_DOTENV)
    assert (conn.host, conn.port) == ("books-warehouse", 5432)
    assert conn.login == pg_env["POSTGRES_USER"]
    assert conn.password == pg_env["POSTGRES_PASSWORD"] == "s3cret"
    assert conn.schema == pg_env["POSTGRES_DB"] == "books_prod"
    # What the DAG tasks will connect to, read the way they read it.
    monkeypatch.setenv("AIRFLOW_CONN_BOOKS_WAREHOUSE", conn.as_json())
    assert warehouse_uri() == "postgresql+psycopg://books:s3cret@books-warehouse:5432/books_prod"


def test_warehouse_credentials_change_together() -> None:
    env = {"BOOKS_WAREHOUSE_PASSWORD": "s3cret", "BOOKS_WAREHOUSE_DB": "books_prod"}
    seeds, pg_env = environment("airflow-init", env), environment("books-warehouse", env)
    assert seeds["BOOKS_WAREHOUSE_PASSWORD"] == pg_env["POSTGRES_PASSWORD"] == "s3cret"
    assert seeds["BOOKS_WAREHOUSE_DB"] == pg_env["POSTGRES_DB"] == "books_prod"
    assert seeds["BOOKS_WAREHOUSE_USER"] == pg_env["POSTGRES_USER"]


def compose_variables() -> set[str]:
    """Names of the ${...} settings used anywhere in the file."""

    def strings(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [s for k, v in node.items() for s in (*strings(k), *strings(v))]
        if isinstance(node, list):
            return [s for v in node for s in strings(v)]
        return [node] if isinstance(node, str) else []

    names: set[str] = set()
    for text in strings(raw_compose()):
        for match in _VAR.finditer(text):
            if name := match.group(2) or match.group(5):
                names.add(name)
    return names


def test_every_setting_is_documented_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", example, re.MULTILINE))
    undocumented = compose_variables() - documented
    assert not undocumented, f"not in .env.example: {sorted(undocumented)}"


def test_no_env_file_is_committed_next_to_the_example() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", ".env"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert tracked.stdout.strip() == ""


# --- the sandbox CRM -----------------------------------------------------------------------


def test_sandbox_serves_the_generated_crm_on_all_interfaces() -> None:
    cmd = service("crm-sandbox")["command"]
    assert cmd[:4] == ["python", "-m", "zoho_sandbox", "serve"]
    args = dict(zip(cmd[4::2], cmd[5::2], strict=True))
    assert args == {
        "--host": "0.0.0.0",
        "--port": "8765",
        "--seed": "7",
        "--accounts": "1000",
        "--contacts": "3000",
        "--deals": "500",
    }
    assert environment("crm-sandbox")["PYTHONPATH"] == "/opt/airflow/plugins"


# --- the image -----------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def dockerfile_base_image(build_args: Mapping[str, str] | None = None) -> str:
    args: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ARG" and "=" in rest:
            key, value = rest.split("=", 1)
            args[key] = value
        if keyword == "FROM":
            args.update(build_args or {})
            return str(interpolate(rest.split()[0], args))
    raise AssertionError("Dockerfile has no FROM")


def test_dockerfile_extends_airflow_3_3_on_python_3_11() -> None:
    base = dockerfile_base_image()
    assert re.fullmatch(r"apache/airflow:3\.3\.\d+-python3\.11", base), base


def test_image_airflow_version_matches_the_lock() -> None:
    locked = lock_version("apache-airflow")
    assert dockerfile_base_image().startswith(f"apache/airflow:{locked}-")
    for name in (*ALL_AIRFLOW, "crm-sandbox"):
        svc = service(name)
        build_args = {k: str(v) for k, v in svc["build"].get("args", {}).items()}
        assert dockerfile_base_image(build_args).startswith(f"apache/airflow:{locked}-"), name
        assert svc["image"].endswith(f":{locked}"), name


def test_dockerfile_installs_the_lock_as_the_airflow_user() -> None:
    instructions = dockerfile_instructions()
    copied: dict[str, str] = {}
    user = "root"
    installs = []
    for keyword, rest in instructions:
        if keyword == "USER":
            user = rest
        if keyword == "COPY":
            parts = [p for p in rest.split() if not p.startswith("--")]
            for source in parts[:-1]:
                copied[parts[-1]] = source
        if keyword == "RUN" and "pip install" in rest:
            installs.append((user, rest))
    assert installs, "the Dockerfile installs nothing"
    for user_at_install, command in installs:
        assert user_at_install == "airflow", "pip must run as the airflow user"
        assert "--no-cache-dir" in command
        target = re.search(r"-r\s+(\S+)", command)
        assert target, command
        assert copied.get(target.group(1)) == "requirements/lock.txt", command


def test_dockerfile_ships_the_project_and_its_library_path() -> None:
    instructions = dockerfile_instructions()
    copies = {rest.split()[-1].rstrip("/") for k, rest in instructions if k == "COPY"}
    for folder in ("dags", "plugins", "include"):
        assert f"/opt/airflow/{folder}" in copies, folder
    env = " ".join(rest for k, rest in instructions if k == "ENV")
    assert "PYTHONPATH=/opt/airflow/plugins" in env
    assert "CRM_BOOKS_HOME=/opt/airflow" in env


def dockerignored(path: str) -> bool:
    """Whether the build context leaves `path` out (patterns in order, `!` re-includes)."""
    ignored = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch(p, pattern) or fnmatch(p, pattern.removeprefix("**/")) for p in prefixes):
            ignored = not negate
    return ignored


def test_build_context_keeps_what_the_dockerfile_copies_and_drops_secrets() -> None:
    for path in ("requirements/lock.txt", "dags", "plugins/crm_books/config.py", "include/sql"):
        assert not dockerignored(path), path
    for path in (".env", ".venv/bin/python", ".git/config", "data/books.db"):
        assert dockerignored(path), path


# --- astro-cli local settings --------------------------------------------------------------


def local_settings() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text())
    assert isinstance(loaded, dict)
    return dict(loaded["airflow"])


def local_connection(conn_id: str) -> Any:
    from airflow.sdk import Connection

    entries = [c for c in local_settings()["connections"] if c["conn_id"] == conn_id]
    assert len(entries) == 1, f"airflow_settings.yaml defines {conn_id!r} {len(entries)} times"
    entry = entries[0]
    extra = entry.get("conn_extra")
    return Connection(
        conn_id=conn_id,
        conn_type=entry["conn_type"],
        host=entry.get("conn_host"),
        schema=entry.get("conn_schema"),
        login=entry.get("conn_login"),
        password=entry.get("conn_password"),
        port=entry.get("conn_port"),
        extra=json.dumps(extra) if extra else None,
    )


def test_local_settings_define_the_contract_connections_and_variable() -> None:
    airflow = local_settings()
    ids = {c["conn_id"] for c in airflow["connections"]}
    assert ids == {config.CRM_CONN_ID, config.WAREHOUSE_CONN_ID}
    variables = {v["variable_name"]: v["variable_value"] for v in airflow["variables"]}
    assert variables == {config.WORKFLOW_VARIABLE: "estimate"}


def test_local_crm_connection_points_at_the_local_sandbox() -> None:
    from crm_books.zoho.hook import credentials_from_connection

    creds = credentials_from_connection(local_connection(config.CRM_CONN_ID))
    assert creds.api_base_url == "http://127.0.0.1:8765"
    assert creds.accounts_url == "http://127.0.0.1:8765"
    assert (creds.client_id, creds.client_secret) == ("sandbox-client", "sandbox-secret")


def test_local_warehouse_connection_is_a_sqlite_file_under_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from crm_books.warehouse.engine import normalize_uri, warehouse_uri

    conn = local_connection(config.WAREHOUSE_CONN_ID)
    monkeypatch.setenv("AIRFLOW_CONN_BOOKS_WAREHOUSE", conn.as_json())
    url = normalize_uri(warehouse_uri())
    assert url.get_backend_name() == "sqlite"
    assert Path(str(url.database)) == Path("/usr/local/airflow/data/books.db")


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if re.match(r"^[A-Z_][A-Z0-9_]*=", line)]
    return {key: value for key, value in pairs}


def test_env_example_spells_out_the_defaults() -> None:
    # Copying .env.example to .env must not change the deployment until the operator edits it.
    assert compose(env_example()) == compose({})


# --- docker-compose itself, when installed -------------------------------------------------


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
@pytest.mark.parametrize("example", [False, True], ids=["defaults", "env-example"])
def test_docker_compose_accepts_the_file(example: bool, tmp_path: Path) -> None:
    env_file = ROOT / ".env.example" if example else tmp_path / "empty.env"
    env_file.touch()
    # Only PATH is passed on, so the operator's shell cannot mask a broken default.
    result = subprocess.run(
        ["docker-compose", "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
