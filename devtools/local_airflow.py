"""`make airflow`: a local Airflow 3 with the project's DAGs, the sandbox CRM and the SQLite warehouse."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

import httpx

from devtools.local_settings import import_commands, write_import_files
from devtools.stack_config import (
    AIRFLOW_COMPONENTS,
    DEFAULT_PORT,
    DEFAULT_SANDBOX_PORT,
    StackConfig,
    airflow_env,
    exit_message,
    port_fix,
    sandbox_command,
    stack_seeds,
    taken_ports,
    unhealthy_components,
)


class LocalAirflow:
    """The running stack: sandbox CRM + Airflow parts as child processes, stopped together."""

    def __init__(self, config: StackConfig, *, base_env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.env = airflow_env(
            config,
            os.environ if base_env is None else base_env,
            jwt_secret=secrets.token_urlsafe(48),
            secret_key=secrets.token_urlsafe(24),
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    @property
    def log_dir(self) -> Path:
        return self.config.home / "logs" / "processes"

    def prepare(self) -> None:
        """Airflow home, login file, migrated warehouse, migrated metadata DB and its crm_config."""
        home = self.config.home
        home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        passwords = home / "passwords.json"
        passwords.write_text(json.dumps({self.config.username: self.config.password}) + "\n")
        passwords.chmod(0o600)
        self.config.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        self._run(
            "warehouse-migrate",
            [
                sys.executable,
                "-m",
                "crm_books",
                "--warehouse",
                self.config.warehouse_uri,
                "migrate",
            ],
        )
        self._run("airflow-db-migrate", ["airflow", "db", "migrate"])
        self.seed()

    def seed(self) -> None:
        """Connections and Variable into the metadata DB, each only if absent: what a user set in
        Admin -> Connections / Variables survives every restart."""
        files = write_import_files(stack_seeds(self.config), self.config.home / "seed")
        for command in import_commands(*files):
            self._run(f"airflow-{command[1]}-import", command)

    def _run(self, name: str, command: Sequence[str]) -> None:
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as out:
            done = subprocess.run(
                list(command), env=self.env, stdout=out, stderr=subprocess.STDOUT, timeout=600
            )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed; see {log}")

    def _spawn(self, name: str, command: Sequence[str]) -> None:
        out = (self.log_dir / f"{name}.log").open("ab")
        self._logs.append(out)
        # Own process group, so stopping reaches the workers each part forks.
        self.procs[name] = subprocess.Popen(
            list(command),
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self) -> None:
        if taken := taken_ports(self.config):
            raise RuntimeError("; ".join(port_fix(self.config, port) for port in taken))
        self.prepare()
        self._spawn("sandbox", sandbox_command(self.config))
        for part in AIRFLOW_COMPONENTS:
            self._spawn(part, ["airflow", part])

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def health(self) -> dict[str, Any] | None:
        try:
            response = httpx.get(f"{self.config.url}/api/v2/monitor/health", timeout=5)
            return dict(response.json()) if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    def sandbox_up(self) -> bool:
        try:
            return httpx.get(f"{self.config.sandbox_url}/crm/v8/org", timeout=5).status_code in (
                200,
                401,
            )
        except httpx.HTTPError:
            return False

    def wait_healthy(self, timeout: float) -> None:
        """Block until every part reports healthy; raise with the log to read if one dies."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if dead := self.exited():
                name = next(iter(dead))
                log = self.log_dir / f"{name}.log"
                raise RuntimeError(exit_message(name, dead[name], log, self.config))
            health = self.health()
            last = health
            if health is not None and not unhealthy_components(health) and self.sandbox_up():
                return
            time.sleep(1)
        raise TimeoutError(
            f"the stack was not healthy after {timeout:.0f} s (last health: {last}); "
            f"see the logs in {self.log_dir}"
        )

    def token(self) -> str:
        """A JWT for the REST API and the plugin page, from Airflow's own login endpoint."""
        response = httpx.post(
            f"{self.config.url}/auth/token",
            json={"username": self.config.username, "password": self.config.password},
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def stop(self, timeout: float = 20) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(5)
        for proc in self.procs.values():
            # Workers forked by a part may outlive it; the group is gone only when they are.
            _signal_group(proc, signal.SIGKILL)
        for out in self._logs:
            out.close()
        self._logs.clear()

    def __enter__(self) -> LocalAirflow:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def banner(config: StackConfig, log_dir: Path) -> str:
    return (
        f"\nAirflow is up: {config.url}\n"
        f"  login: {config.username} / {config.password}\n"
        f"  CRM → Books page: {config.url}/plugin/crm-books (or {config.url}/crm-books/)\n"
        f"  sandbox CRM: {config.sandbox_url}   warehouse: {config.warehouse_path}\n"
        f"  logs: {log_dir}\n"
        "Press Ctrl-C to stop everything.\n"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.local_airflow", description=__doc__)
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("AIRFLOW_PORT", DEFAULT_PORT)),
        help="Airflow UI/API port (env AIRFLOW_PORT; default 8080)",
    )
    parser.add_argument(
        "--sandbox-port",
        type=int,
        default=int(os.environ.get("SANDBOX_PORT", DEFAULT_SANDBOX_PORT)),
        help="sandbox CRM port (env SANDBOX_PORT; default 8765)",
    )
    parser.add_argument("--home", type=Path, help="Airflow home (default: .airflow/)")
    parser.add_argument(
        "--warehouse", type=Path, help="SQLite warehouse file (default: data/books.db)"
    )
    parser.add_argument(
        "--workflow",
        default="estimate",
        choices=["estimate", "invoice", "off"],
        help="first value of the Variable books_potential_workflow (seeded only where absent;"
        " later, change it in Admin -> Variables)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="start, wait until every part is healthy, print the result and stop",
    )
    parser.add_argument(
        "--timeout", type=float, default=180, help="seconds to wait for health (default 180)"
    )
    return parser


def config_from_args(args: argparse.Namespace) -> StackConfig:
    defaults = StackConfig()
    return StackConfig(
        home=args.home or defaults.home,
        warehouse_path=args.warehouse or defaults.warehouse_path,
        port=args.port,
        sandbox_port=args.sandbox_port,
        workflow=args.workflow,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    stack = LocalAirflow(config)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    # Ctrl-C stops everything even when this was started from a shell that ignores SIGINT for
    # background jobs (Python then keeps SIGINT ignored and KeyboardInterrupt never comes).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(f"starting Airflow in {config.home} (logs in {stack.log_dir}) ...", flush=True)
    started = time.monotonic()
    try:
        with stack:
            stack.wait_healthy(args.timeout)
            if args.check:
                print(f"healthy after {time.monotonic() - started:.1f} s: {config.url}", flush=True)
                return 0
            print(banner(config, stack.log_dir), flush=True)
            while not (dead := stack.exited()):
                time.sleep(1)
            print(f"stopping: {dead} exited; see {stack.log_dir}", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("\nstopping Airflow and the sandbox ...", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
