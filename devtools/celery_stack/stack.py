"""The stack's parts on loopback: throwaway PostgreSQL clusters, redis-server and planned services."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devtools.celery_stack.processes import Child, ProcessGroup, wait_until
from devtools.pg_throwaway import PgCluster, start_cluster


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now, on `host` and on every interface."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        port = int(sock.getsockname()[1])
    with socket.socket() as sock:
        sock.bind((host, port))
    return port


@dataclass(frozen=True)
class ServicePlan:
    """One process of the stack: its name, command line and complete environment."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]


@dataclass
class StackLayout:
    """Where the stack lives: a scratch folder, and the loopback port of each part that listens."""

    root: Path
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)

    def port(self, name: str) -> int:
        """The port of `name`, allocated on first use."""
        if name not in self.ports:
            self.ports[name] = free_port(self.host)
        return self.ports[name]

    @property
    def log_dir(self) -> Path:
        return self.root / "processes"


class CeleryStack:
    """Starts the parts in the order they are asked for and stops all of them, always."""

    def __init__(self, layout: StackLayout) -> None:
        self.layout = layout
        self.group = ProcessGroup(layout.log_dir)
        self.clusters: dict[str, PgCluster] = {}

    def start_postgres(self, name: str, *, user: str, password: str, database: str) -> PgCluster:
        """A throwaway cluster holding `database` owned by `user`, as the postgres image creates them."""
        import psycopg
        from psycopg import sql

        cluster = start_cluster()
        self.clusters[name] = cluster
        self.layout.ports[name] = cluster.port
        with psycopg.connect(cluster.admin_uri, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(user)
                )
            )
        return cluster

    def start_redis(self, name: str = "redis", timeout: float = 30) -> int:
        """redis-server on a free loopback port, without persistence; returns the port."""
        import redis

        port = self.layout.port(name)
        folder = self.layout.root / name
        folder.mkdir(parents=True, exist_ok=True)
        argv = ["redis-server", "--port", str(port), "--bind", self.layout.host]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
        self.group.spawn(name, argv, {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
        client = redis.Redis(host=self.layout.host, port=port, socket_timeout=2)

        def answers() -> bool:
            self._raise_if_dead()
            with contextlib.suppress(redis.RedisError):
                return bool(client.ping())
            return False

        wait_until(answers, timeout, f"redis-server on port {port}", interval=0.2)
        return port

    def start(self, plan: ServicePlan) -> Child:
        return self.group.spawn(plan.name, plan.argv, plan.env)

    def run(self, plan: ServicePlan, timeout: float) -> str:
        """A one-shot step (an init service); returns its output."""
        return self.group.run(plan.name, plan.argv, plan.env, timeout)

    def _raise_if_dead(self) -> None:
        if dead := self.group.dead():
            name, code = next(iter(dead.items()))
            child = self.group.children[name]
            raise RuntimeError(f"{name} exited with {code}; see {child.log}:\n{child.tail()}")

    def wait_healthy(self, checks: Sequence[ServicePlan], timeout: float) -> dict[str, float]:
        """Run each check (a healthcheck command) until it exits 0; how long its passing run took."""
        import subprocess

        passed: dict[str, float] = {}
        started = time.monotonic()
        for check in checks:

            def ok(check: ServicePlan = check) -> bool:
                self._raise_if_dead()
                began = time.monotonic()
                done = subprocess.run(
                    list(check.argv), env=dict(check.env), capture_output=True, timeout=120
                )
                passed[check.name] = round(time.monotonic() - began, 1)
                return done.returncode == 0

            remaining = timeout - (time.monotonic() - started)
            wait_until(ok, max(remaining, 1), check.name, interval=2)
        return passed

    def stop(self) -> None:
        """Every process, then every cluster; safe to call twice."""
        try:
            self.group.stop_all()
        finally:
            for name in list(self.clusters):
                self.clusters.pop(name).stop()
