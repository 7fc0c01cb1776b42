"""docker-compose.yaml read as docker compose reads it, and turned into the loopback stack's plan:
each service's command and environment come from the file, with service names replaced by
loopback ports and container paths by this checkout, so the stack test and compose cannot drift."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from devtools.celery_stack import ServicePlan, StackLayout
from devtools.celery_stack.hostname import HOSTNAME_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"

VARIABLE_PATTERN = re.compile(r"\$(?:(\$)|\{(\w+)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}|(\w+))")


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

    return VARIABLE_PATTERN.sub(substitute, value)


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


# airflow-init's steps from here on run outside the container; the folder preparation before it
# needs root and /opt/airflow, which only the container has.
INIT_STEPS_BEGIN = 'echo "Airflow version:"'


def init_script(env: Mapping[str, str] | None = None) -> str:
    """airflow-init's steps (Airflow's migration, the admin user, the seeding, the warehouse
    migration) as docker compose hands them to bash, with the image's /entrypoint wrapper left out."""
    script = str(service("airflow-init", env)["command"][-1])
    steps = script[script.index(INIT_STEPS_BEGIN) :].replace("/entrypoint ", "")
    return "set -euo pipefail\n" + steps


# --- the loopback plan ---------------------------------------------------------------------

# The port each service listens on inside the compose network.
CONTAINER_PORTS = {
    "postgres": 5432,
    "books-warehouse": 5432,
    "redis": 6379,
    "airflow-apiserver": 8080,
    "crm-sandbox": 8765,
}
# Ports a healthcheck probes on its own container (localhost:N), by the layout's port name.
HEALTH_PORTS = {8080: "airflow-apiserver", 8974: "scheduler-health", 8765: "crm-sandbox"}
# Container folders mounted from the project (see each service's volumes).
CONTAINER_PATHS = ("/opt/airflow", "/opt/crm-books-sandbox")
AIRFLOW_PARTS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
# Two workers, as `--scale airflow-worker=2` names them; each task names its worker by an
# address the api-server can dial for its log (every 127.x address is loopback on Linux).
WORKERS = {"airflow-worker-1": "127.0.0.2", "airflow-worker-2": "127.0.0.3"}
_SERVICE_ADDRESS = re.compile(
    r"(?:(?<=@)|(?<=//)|^)(?P<name>" + "|".join(map(re.escape, CONTAINER_PORTS)) + r")"
    r"(?::(?P<port>\d+))?(?=[/?]|$)"
)


def on_loopback(value: str, layout: StackLayout) -> str:
    """A compose value with service hosts (URLs, host:port) and container paths made local."""

    def address(match: re.Match[str]) -> str:
        return f"{layout.host}:{layout.port(match.group('name'))}"

    value = _SERVICE_ADDRESS.sub(address, value)
    for path in CONTAINER_PATHS:
        value = value.replace(path, str(ROOT))
    return value


def stack_env(name: str, layout: StackLayout, hostname: str) -> dict[str, str]:
    """What running on one machine adds to a service's compose environment: no shared volume or
    container hostname, so folders, listening ports and each process's own name are set here."""
    home = layout.root / "airflow-home"
    venv_bin = Path(sys.executable).parent
    # The api-server gets a log folder of its own: it must fetch task logs from the worker's log
    # server, signed with the shared [api] secret_key, as across containers.
    logs = layout.root / ("api-server-logs" if name == "airflow-apiserver" else "logs")
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(logs),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(layout.port("worker-log-server")),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(layout.port("trigger-log-server")),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(
            layout.port("scheduler-health")
        ),
        "AIRFLOW__API__HOST": layout.host,
        "AIRFLOW__API__PORT": str(layout.port("airflow-apiserver")),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "devtools.celery_stack.hostname.task_hostname",
        "HOSTNAME": hostname,
        HOSTNAME_VARIABLE: WORKERS.get(hostname, hostname),
    }


def service_env(name: str, layout: StackLayout, hostname: str | None = None) -> dict[str, str]:
    """The compose environment of `name` on loopback, plus what one machine needs."""
    env = {k: on_loopback(v, layout) for k, v in environment(name).items()}
    env.update(stack_env(name, layout, hostname or name))
    # The hostname callable lives in devtools (never in the image); the project root finds it.
    env["PYTHONPATH"] = f"{env.get('PYTHONPATH', '')}:{ROOT}".lstrip(":")
    return env


def airflow_plan(name: str, layout: StackLayout, hostname: str | None = None) -> ServicePlan:
    """An Airflow service: `airflow <its compose command>`."""
    command = service(name)["command"]
    argv = ["airflow", *(shlex.split(command) if isinstance(command, str) else command)]
    return ServicePlan(hostname or name, tuple(argv), service_env(name, layout, hostname))


def worker_plan(hostname: str, layout: StackLayout, *, serve_logs: bool) -> ServicePlan:
    """One replica of airflow-worker, in Celery's default (prefork) pool. Replicas on one machine
    need their own Celery node names, and only one can bind the log server's port."""
    plan = airflow_plan("airflow-worker", layout, hostname)
    extra = ["--celery-hostname", hostname, *([] if serve_logs else ["--skip-serve-logs"])]
    return ServicePlan(plan.name, (*plan.argv, *extra), plan.env)


def sandbox_plan(layout: StackLayout) -> ServicePlan:
    """crm-sandbox's command with loopback for 0.0.0.0 and the layout's port."""
    argv = [str(a) for a in service("crm-sandbox")["command"]]
    argv[argv.index("--host") + 1] = layout.host
    argv[argv.index("--port") + 1] = str(layout.port("crm-sandbox"))
    argv[0] = sys.executable
    return ServicePlan("crm-sandbox", tuple(argv), service_env("crm-sandbox", layout))


def init_plan(layout: StackLayout) -> ServicePlan:
    """airflow-init's script, with its environment on loopback."""
    return ServicePlan(
        "airflow-init", ("bash", "-c", init_script()), service_env("airflow-init", layout)
    )


def database_settings(name: str) -> dict[str, str]:
    """user, password and database the postgres image creates for service `name`."""
    env = environment(name)
    return {
        "user": env["POSTGRES_USER"],
        "password": env["POSTGRES_PASSWORD"],
        "database": env["POSTGRES_DB"],
    }


def healthcheck_plan(plan: ServicePlan, compose_name: str, layout: StackLayout) -> ServicePlan:
    """A service's compose healthcheck, run against its loopback process with its environment."""
    check = service(compose_name)["healthcheck"]["test"]
    kind, rest = check[0], [str(a) for a in check[1:]]
    argv = rest if kind == "CMD" else ["bash", "-c", rest[0]]

    def local(match: re.Match[str]) -> str:
        return f"{layout.host}:{layout.port(HEALTH_PORTS[int(match.group(1))])}"

    argv = [re.sub(r"localhost:(\d+)", local, a) for a in argv]
    if argv[0] == "python":
        argv[0] = sys.executable
    return ServicePlan(f"healthcheck of {plan.name}", tuple(argv), plan.env)


def healthcheck_timeout(compose_name: str) -> float:
    """The healthcheck's timeout in seconds (compose's `30s` spelling)."""
    value = str(service(compose_name)["healthcheck"].get("timeout", "30s"))
    match = re.fullmatch(r"(\d+)s", value)
    assert match, f"{compose_name}: healthcheck timeout {value!r} is not in seconds"
    return float(match.group(1))
