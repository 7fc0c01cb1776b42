"""What `make airflow` starts, before anything runs: the stack's settings, its children's
environment and commands, and the checks of its ports and health (the running stack is in
devtools/local_airflow.py)."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_books import config as crm_config
from devtools.local_settings import Seeds, local_seeds

DEFAULT_PORT = 8080
DEFAULT_SANDBOX_PORT = 8765
DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "admin"
# The parts `airflow standalone` would start; each is watched and stopped by this process.
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTH_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


@dataclass(frozen=True)
class StackConfig:
    """Where and how the local stack runs; the defaults are what `make airflow` uses."""

    project_root: Path = crm_config.PROJECT_ROOT
    home: Path = crm_config.PROJECT_ROOT / ".airflow"
    warehouse_path: Path = crm_config.DATA_DIR / "books.db"
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    sandbox_port: int = DEFAULT_SANDBOX_PORT
    sandbox_sizes: Mapping[str, int] = field(
        default_factory=lambda: {"accounts": 1000, "contacts": 3000, "deals": 500}
    )
    sandbox_seed: int = 7
    username: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD
    workflow: str = "estimate"
    parallelism: int = 4

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.host}:{self.sandbox_port}"

    @property
    def warehouse_uri(self) -> str:
        return f"sqlite:///{self.warehouse_path.resolve()}"


def bin_dir() -> Path:
    """The venv's bin/: `airflow` and its subprocesses must be found on PATH."""
    return Path(sys.executable).parent


def stack_seeds(config: StackConfig) -> Seeds:
    """airflow_settings.yaml's connections and Variable, pointing at this stack's sandbox and warehouse."""
    return local_seeds(config.sandbox_url, config.warehouse_path, workflow=config.workflow)


def airflow_env(
    config: StackConfig, base: Mapping[str, str], *, jwt_secret: str, secret_key: str
) -> dict[str, str]:
    """Environment of every child: Airflow's configuration as AIRFLOW__* vars. Connections and
    Variables are not set here: Airflow reads AIRFLOW_CONN_*/AIRFLOW_VAR_* before its metadata
    DB, so a change made in the UI would be ignored (they are seeded into the DB instead)."""
    home = config.home.resolve()
    root = config.project_root.resolve()
    # A shell's AIRFLOW_CONN_*/AIRFLOW_VAR_* would mask the seeded ones (and the UI's changes).
    env = {k: v for k, v in base.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.update(
        {
            "PATH": f"{bin_dir()}{os.pathsep}{base.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(config.parallelism),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{config.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{config.username}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__HOST": config.host,
            "AIRFLOW__API__PORT": str(config.port),
            "AIRFLOW__API__BASE_URL": config.url,
            "AIRFLOW__API__SECRET_KEY": secret_key,
            # Every process signs and checks the same tokens (task tokens, UI tokens).
            "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "GX_ANALYTICS_ENABLED": "False",
            "CRM_BOOKS_HOME": str(root),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def sandbox_command(config: StackConfig) -> list[str]:
    command = [sys.executable, "-m", "zoho_sandbox", "serve", "--host", config.host]
    command += ["--port", str(config.sandbox_port), "--seed", str(config.sandbox_seed)]
    for name in ("accounts", "contacts", "deals"):
        command += [f"--{name}", str(config.sandbox_sizes.get(name, 0))]
    return command


def port_fix(config: StackConfig, port: int) -> str:
    """What to do when ``port`` is taken: the variable that moves that part, or stop the other."""
    variable = "SANDBOX_PORT" if port == config.sandbox_port else "AIRFLOW_PORT"
    return (
        f"port {port} on {config.host} is already in use (another Airflow or program listens "
        f"there): start on a free port with `{variable}={port + 101} make airflow`, or stop the "
        f"other process (`ss -ltnp 'sport = :{port}'` names it)"
    )


def taken_ports(config: StackConfig) -> list[int]:
    """The stack's ports that something already listens on (checked before anything starts)."""
    taken = []
    for port in (config.port, config.sandbox_port):
        with socket.socket() as probe:
            # As uvicorn binds: a port in TIME_WAIT is free to it.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((config.host, port))
            except OSError:
                taken.append(port)
    return taken


def exit_message(name: str, code: int, log: Path, config: StackConfig) -> str:
    """A part that died: its real exit code, and the fix when its log says its port was taken."""
    text = log.read_text(errors="replace")[-20_000:] if log.exists() else ""
    port = config.sandbox_port if name == "sandbox" else config.port
    reason = f": {port_fix(config, port)}" if "address already in use" in text.lower() else ""
    return f"{name} exited with code {code}{reason}; see {log}"


def unhealthy_components(health: Mapping[str, Any]) -> list[str]:
    """Names of the parts that /api/v2/monitor/health does not report healthy."""
    return [
        name for name in HEALTH_COMPONENTS if (health.get(name) or {}).get("status") != "healthy"
    ]
