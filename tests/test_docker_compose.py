"""What an operator relies on in docker-compose.yaml, the Dockerfile, the locks and
airflow_settings.yaml: airflow-init run for real, the build context as Docker computes it, and
the invariants between the files (values the YAML merely states are not re-asserted here)."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from crm_books import config
from tests.locks import canonical, lock_pins
from tests.stack.compose_plan import (
    COMPOSE_FILE,
    ROOT,
    VARIABLE_PATTERN,
    compose,
    environment,
    init_script,
    interpolate,
    raw_compose,
    service,
)
from zoho_sandbox.process import stop

AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
ALL_AIRFLOW = (*AIRFLOW_SERVICES, "airflow-init")
# Services that exit by design; everything else must report its health.
ONE_SHOT = {"airflow-init", "airflow-cli"}
RUNTIME_LOCK, DEV_LOCK = "runtime.txt", "dev.txt"

REAL_ORG_ENV = {
    "ZOHO_CRM_API_URL": "https://www.zohoapis.eu",
    "ZOHO_ACCOUNTS_URL": "https://accounts.zoho.eu",
    "ZOHO_CLIENT_ID": "1000.REALCLIENT",
    "ZOHO_CLIENT_SECRET": "real-secret",
    "ZOHO_REFRESH_TOKEN": "1000.real-refresh",
}


def depends_on(name: str) -> dict[str, str]:
    """{dependency: condition} for a service (a list means service_started)."""
    raw = service(name).get("depends_on", {})
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {dep: spec.get("condition", "service_started") for dep, spec in raw.items()}


def lock_version(package: str) -> str:
    pins = lock_pins(RUNTIME_LOCK)
    assert package in pins, f"{package} is not pinned in requirements/{RUNTIME_LOCK}"
    return pins[package]


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


class MetadataDB:
    """A throwaway Airflow metadata database (SQLite) and Books warehouse (a SQLite file), driven
    by the venv's airflow CLI with the compose file's auth manager."""

    def __init__(self, home: Path) -> None:
        venv_bin = Path(sys.executable).parent
        self.warehouse_uri = f"sqlite:///{home / 'books.db'}"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CRM_BOOKS_"))
        }
        self.env.update(
            PATH=f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            AIRFLOW_HOME=str(home),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
            # `airflow users create` belongs to the auth manager the compose file configures.
            AIRFLOW__CORE__AUTH_MANAGER=environment("airflow-init")["AIRFLOW__CORE__AUTH_MANAGER"],
        )

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

    def init(self, dotenv: Mapping[str, str]) -> str:
        """Run airflow-init's steps as a `docker compose up` with `dotenv` as .env would."""
        script = init_script(dotenv)
        # The init service's settings the script reads; not its Airflow config (the DB is ours).
        inputs = {k: v for k, v in environment("airflow-init", dotenv).items() if k in script}
        assert not any(k.startswith("AIRFLOW") for k in inputs), inputs
        # The seeded books_warehouse names the compose host books-warehouse; the library's CLI
        # override sends the warehouse migration to this test's SQLite file instead.
        inputs["BOOKS_WAREHOUSE_URI"] = self.warehouse_uri
        return self.run(["bash", "-c", script], inputs).stdout

    def settings(self) -> dict[str, Any]:
        shown = self.run([sys.executable, "-c", DUMP_SETTINGS])
        return dict(json.loads(shown.stdout.strip().splitlines()[-1]))


def seeded_connection(stored: Mapping[str, Any], conn_id: str) -> Any:
    """The Connection a task gets for conn_id from what the metadata DB holds."""
    from airflow.sdk import Connection

    fields = dict(stored["connections"][conn_id])
    extra = fields.pop("extra_dejson")
    return Connection(conn_id=conn_id, extra=json.dumps(extra) if extra else None, **fields)


# --- health and start order ----------------------------------------------------------------


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


@pytest.mark.slow
def test_init_migrates_airflow_then_the_warehouse(
    metadata_db: MetadataDB, seeded: dict[str, Any]
) -> None:
    from crm_books.warehouse.engine import create_warehouse_engine
    from crm_books.warehouse.migrations import migrate

    metadata_db.run(["airflow", "db", "check-migrations", "--migration-wait-timeout", "1"])
    engine = create_warehouse_engine(metadata_db.warehouse_uri)
    try:
        assert migrate(engine) == [], "airflow-init left warehouse migrations pending"
    finally:
        engine.dispose()


@pytest.mark.slow
def test_init_creates_the_documented_login(metadata_db: MetadataDB, seeded: dict[str, Any]) -> None:
    # docs/docker-compose.md: "log in as airflow / airflow", through the compose's auth manager.
    from werkzeug.security import check_password_hash

    airflow_db = sqlite3.connect(metadata_db.env["AIRFLOW_HOME"] + "/airflow.db")
    with closing(airflow_db):
        rows = airflow_db.execute("SELECT password FROM ab_user WHERE username = 'airflow'")
        (stored,) = rows.fetchone()
    assert check_password_hash(stored, "airflow")


# --- databases, volumes and mounts ---------------------------------------------------------


def test_warehouse_postgres_is_separate_from_the_metadata_postgres() -> None:
    warehouse, metadata = service("books-warehouse"), service("postgres")
    warehouse_volumes = {v.split(":")[0] for v in warehouse["volumes"]}
    metadata_volumes = {v.split(":")[0] for v in metadata["volumes"]}
    assert warehouse_volumes and metadata_volumes
    assert not warehouse_volumes & metadata_volumes, "the two databases share a volume"
    declared = set(compose()["volumes"])
    assert warehouse_volumes <= declared and metadata_volumes <= declared
    # Airflow's metadata lives on `postgres`, the Books data on `books-warehouse`.
    metadata_url = environment("airflow-scheduler")["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert re.search(r"@postgres(:5432)?/", metadata_url), metadata_url


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
    """What the metadata DB holds after airflow-init ran on the first start."""
    metadata_db.init(FIRST_DOTENV)
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
    metadata_db.init({})
    after = metadata_db.settings()
    assert after["variables"] == {config.WORKFLOW_VARIABLE: "off"}
    warehouse = config.WAREHOUSE_CONN_ID
    assert after["connections"][warehouse] == seeded["connections"][warehouse]  # still s3cret
    crm = seeded_connection(after, config.CRM_CONN_ID)
    assert (crm.host, crm.login) == ("http://crm-sandbox:8765", "sandbox-client")


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
        for match in VARIABLE_PATTERN.finditer(text):
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


def container_tree(name: str, root: Path) -> Path:
    """The service's bind mounts of project folders, laid out under `root` as symlinks."""
    for volume in service(name)["volumes"]:
        source, target = str(volume).split(":")[:2]
        if source.startswith("./"):
            link = root / target.lstrip("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(ROOT / source)
    return root


# Runs a module the way the container would: the venv's own path to the project (crm_books.pth)
# is dropped, so only the service's PYTHONPATH, mapped through its mounts, can find the code.
RUN_AS_CONTAINER = """
import runpy, sys
project = {sys.argv[1], sys.argv[1] + "/plugins"}
sys.path[:] = [p for p in sys.path if p.rstrip("/") not in project]
sys.argv = sys.argv[2:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def test_sandbox_service_command_serves_its_healthcheck_url(tmp_path: Path) -> None:
    from devtools.pg_throwaway import free_port

    command = list(service("crm-sandbox")["command"])
    assert command[:2] == ["python", "-m"], command
    port = str(free_port())
    # Loopback and a free port instead of 0.0.0.0:8765; every other argument as in the file.
    for flag, value in (("--host", "127.0.0.1"), ("--port", port)):
        command[command.index(flag) + 1] = value
    tree = container_tree("crm-sandbox", tmp_path / "container")
    paths = environment("crm-sandbox")["PYTHONPATH"].split(":")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(str(tree / p.lstrip("/")) for p in paths),
    }
    argv = [sys.executable, "-c", RUN_AS_CONTAINER, str(ROOT), *command[2:]]
    health = re.search(r"http://localhost:(\d+)(/\S*?)'", json.dumps(service("crm-sandbox")))
    assert health, "the sandbox healthcheck probes no URL"
    url = f"http://127.0.0.1:{port}{health.group(2)}"
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, f"{url} did not answer"
                time.sleep(0.5)
    finally:
        stop(proc)


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


def test_image_airflow_version_matches_the_lock() -> None:
    locked = lock_version("apache-airflow")
    assert dockerfile_base_image().startswith(f"apache/airflow:{locked}-")
    for name in (*ALL_AIRFLOW, "crm-sandbox"):
        svc = service(name)
        build_args = {k: str(v) for k, v in svc["build"].get("args", {}).items()}
        assert dockerfile_base_image(build_args).startswith(f"apache/airflow:{locked}-"), name
        assert svc["image"].endswith(f":{locked}"), name


def build_context() -> set[str]:
    """The files `docker build .` sends, by Docker's own .dockerignore rules (docker-py's matcher)."""
    from docker.utils.build import exclude_paths

    patterns = (ROOT / ".dockerignore").read_text().splitlines()
    shipped = exclude_paths(str(ROOT), [p for p in patterns if p and not p.startswith("#")])
    # The builder always reads these two; no COPY can take them into an image.
    return {path for path in shipped if (ROOT / path).is_file()} - {"Dockerfile", ".dockerignore"}


def test_build_context_ships_the_product_and_nothing_of_development() -> None:
    shipped = build_context()
    tops = {path.split("/")[0] for path in shipped}
    assert tops == {"requirements", "dags", "plugins", "include", "zoho_sandbox"}, tops
    assert {p for p in shipped if p.startswith("requirements/")} == {f"requirements/{RUNTIME_LOCK}"}
    assert not [p for p in shipped if "__pycache__" in p or p.endswith(".pyc")]
    # Every tracked file of the product folders reaches the builder.
    tracked = subprocess.run(
        ["git", "ls-files", "dags", "plugins", "include", "zoho_sandbox"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked and not set(tracked) - shipped, sorted(set(tracked) - shipped)[:5]


def test_every_dockerfile_copy_source_is_in_the_build_context() -> None:
    # A COPY of a path the context leaves out fails the build.
    shipped = build_context()
    for keyword, rest in dockerfile_instructions():
        if keyword == "COPY" and "--from" not in rest:
            for source in [p for p in rest.split() if not p.startswith("--")][:-1]:
                folder = source.rstrip("/") + "/"
                assert any(p == source or p.startswith(folder) for p in shipped), source


def test_runtime_lock_has_no_test_or_lint_tools_and_dev_lock_keeps_its_pins() -> None:
    runtime, dev = lock_pins(RUNTIME_LOCK), lock_pins(DEV_LOCK)
    tools = {"pytest", "pytest-timeout", "hypothesis", "ruff", "mypy", "docker"}
    assert not tools & set(runtime), tools & set(runtime)
    assert not [p for p in runtime if p.startswith("types-")]
    assert tools <= set(dev)
    # Tests run against exactly the versions the image runs.
    changed = {p: (v, dev.get(p)) for p, v in runtime.items() if dev.get(p) != v}
    assert not changed, changed


def owning_distribution(module: str) -> str:
    """The installed distribution that ships `module`."""
    spec = importlib.util.find_spec(module)
    assert spec and spec.origin, f"{module} is not importable"
    origin = Path(spec.origin).resolve()
    for dist in importlib.metadata.distributions():
        for file in dist.files or ():
            if file.suffix == ".py" and Path(str(dist.locate_file(file))).resolve() == origin:
                return canonical(dist.metadata["Name"])
    raise AssertionError(f"no distribution ships {module}")


def test_what_the_compose_settings_load_is_pinned_in_the_runtime_lock() -> None:
    from airflow.executors.executor_loader import ExecutorLoader
    from kombu.transport import resolve_transport

    settings = environment("airflow-worker")
    executor = ExecutorLoader.executors.get(settings["AIRFLOW__CORE__EXECUTOR"])
    assert executor, settings["AIRFLOW__CORE__EXECUTOR"]
    broker_transport = resolve_transport(settings["AIRFLOW__CELERY__BROKER_URL"].split(":")[0])
    modules = {
        executor.rsplit(".", 1)[0],
        settings["AIRFLOW__CORE__AUTH_MANAGER"].rsplit(".", 1)[0],
        broker_transport.__module__,
        "redis",  # the client kombu's Redis transport talks to the broker with
        "flower",  # `celery flower` of the flower profile
    }
    runtime = lock_pins(RUNTIME_LOCK)
    for module in sorted(modules):
        importlib.import_module(module)
        assert owning_distribution(module) in runtime, module


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


# --- docker compose itself, when installed -------------------------------------------------


def compose_cli() -> list[str] | None:
    """`docker compose` (the plugin) where it works, else the standalone `docker-compose`."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], env=env, capture_output=True, timeout=60
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


@pytest.mark.skipif(compose_cli() is None, reason="neither docker compose nor docker-compose")
@pytest.mark.parametrize("example", [False, True], ids=["defaults", "env-example"])
def test_docker_compose_accepts_the_file(example: bool, tmp_path: Path) -> None:
    env_file = ROOT / ".env.example" if example else tmp_path / "empty.env"
    env_file.touch()
    cli = compose_cli() or []
    # Only PATH is passed on, so the operator's shell cannot mask a broken default.
    result = subprocess.run(
        [*cli, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
