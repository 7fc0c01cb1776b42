"""What `make airflow` configures for its child processes (the running stack is in test_local_stack)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from devtools.local_airflow import LocalAirflow, build_parser, config_from_args
from devtools.stack_config import (
    StackConfig,
    airflow_env,
    bin_dir,
    exit_message,
    sandbox_command,
    stack_seeds,
    taken_ports,
    unhealthy_components,
)


def _env(tmp_path: Path, **kw: object) -> dict[str, str]:
    config = StackConfig(
        project_root=tmp_path,
        home=tmp_path / ".airflow",
        warehouse_path=tmp_path / "books.db",
        **kw,
    )  # type: ignore[arg-type]
    # A shell that still exports settings the old way: they must not reach the stack.
    shell = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "AIRFLOW_CONN_ZOHO_CRM": "http://shell-org",
        "AIRFLOW_VAR_BOOKS_POTENTIAL_WORKFLOW": "invoice",
    }
    return airflow_env(config, shell, jwt_secret="j", secret_key="k")


def test_children_get_the_project_layout_local_executor_and_sqlite(tmp_path: Path) -> None:
    env = _env(tmp_path, port=18080)
    assert env["PATH"].split(":")[0] == str(bin_dir())  # `airflow` subprocesses are found
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "dags")
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(tmp_path / "plugins")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path}/.airflow/airflow.db"
    # Workers reach the API server on the chosen port, not the 8080 default.
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "j"
    assert env["HOME"] == "/root"


def test_connections_and_variable_are_seeds_for_the_metadata_db_not_env_vars(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path, sandbox_port=18765, workflow="invoice")
    # Env vars would be read before the metadata DB and mask every change made in the UI.
    assert not [k for k in env if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))]
    config = StackConfig(
        sandbox_port=18765, warehouse_path=tmp_path / "books.db", workflow="invoice"
    )
    seeds = stack_seeds(config)
    crm = seeds.connections["zoho_crm"]
    assert crm["host"] == "http://127.0.0.1:18765"
    assert (crm["login"], crm["password"]) == ("sandbox-client", "sandbox-secret")
    assert crm["extra_dejson"] == {
        "refresh_token": "sandbox-refresh",
        "accounts_url": "http://127.0.0.1:18765",
    }
    assert seeds.connections["books_warehouse"] == {
        "conn_type": "sqlite",
        "schema": str(tmp_path / "books.db"),
    }
    assert seeds.variables == {"books_potential_workflow": "invoice"}
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].endswith(
        ".airflow/passwords.json"
    )


def test_sandbox_is_the_documented_demo_crm() -> None:
    command = sandbox_command(StackConfig())
    assert command[1:4] == ["-m", "zoho_sandbox", "serve"]
    joined = " ".join(command)
    for part in ("--port 8765", "--seed 7", "--accounts 1000", "--contacts 3000", "--deals 500"):
        assert part in joined


def test_ports_come_from_flags_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_PORT", "9090")
    monkeypatch.setenv("SANDBOX_PORT", "9765")
    config = config_from_args(build_parser().parse_args([]))
    assert (config.port, config.sandbox_port, config.url) == (9090, 9765, "http://127.0.0.1:9090")
    config = config_from_args(build_parser().parse_args(["--port", "8181", "--check"]))
    assert config.port == 8181


def test_health_names_every_part_that_is_not_healthy() -> None:
    healthy = {"status": "healthy"}
    health = {
        "metadatabase": healthy,
        "scheduler": {"status": "unhealthy"},
        "triggerer": healthy,
        "dag_processor": {"status": None},
    }
    assert unhealthy_components(health) == ["scheduler", "dag_processor"]
    assert unhealthy_components({k: healthy for k in health}) == []


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_a_taken_port_stops_the_start_before_anything_runs_and_names_the_fix(
    tmp_path: Path,
) -> None:
    with _listening() as other, _listening() as free:
        taken = other.getsockname()[1]
        free_port = free.getsockname()[1]
        free.close()
        config = StackConfig(
            home=tmp_path / ".airflow",
            warehouse_path=tmp_path / "books.db",
            port=taken,
            sandbox_port=free_port,
        )
        assert taken_ports(config) == [taken]
        stack = LocalAirflow(config)
        with pytest.raises(RuntimeError) as refused:
            stack.start()
    message = str(refused.value)
    assert f"port {taken} on 127.0.0.1 is already in use" in message
    assert f"AIRFLOW_PORT={taken + 101} make airflow" in message
    assert stack.procs == {} and not (tmp_path / ".airflow").exists()  # nothing was started


def test_a_part_that_lost_its_port_says_its_real_exit_code_and_the_fix(tmp_path: Path) -> None:
    # What `airflow api-server` logs and exits with (code 3) when its port is taken.
    log = tmp_path / "api-server.log"
    log.write_text(
        "[error    ] [Errno 98] error while attempting to bind on address ('127.0.0.1', 8080):"
        " address already in use [uvicorn.error]\n"
    )
    config = StackConfig(port=8080, sandbox_port=8765)
    message = exit_message("api-server", 3, log, config)
    assert message.startswith("api-server exited with code 3: port 8080")
    assert "`AIRFLOW_PORT=8181 make airflow`" in message and str(log) in message
    sandbox = exit_message("sandbox", 1, log, config)
    assert "`SANDBOX_PORT=8866 make airflow`" in sandbox
    other = tmp_path / "scheduler.log"
    other.write_text("Traceback ...\nValueError: boom\n")
    assert (
        exit_message("scheduler", 1, other, config) == f"scheduler exited with code 1; see {other}"
    )
