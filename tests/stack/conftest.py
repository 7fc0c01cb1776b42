"""The CeleryExecutor stack of docker-compose.yaml, started once for the stack tests on loopback."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from devtools.celery_stack import CeleryStack, ServicePlan, StackLayout
from devtools.celery_stack.api import AirflowApi
from tests.stack import compose_plan as plan

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Compose's services with the process names of the stack (two worker replicas).
SERVICES = ("crm-sandbox", *plan.AIRFLOW_PARTS, *plan.WORKERS)


@dataclass
class RunningStack:
    """The started stack: its processes, the REST client, and what the tests learn on the way."""

    stack: CeleryStack
    layout: StackLayout
    api: AirflowApi
    plans: dict[str, ServicePlan]
    health_seconds: dict[str, float]
    started_in: float
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def cli_env(self) -> dict[str, str]:
        """The environment an operator's shell needs to run `airflow` against this stack."""
        return dict(self.plans["airflow-scheduler"].env)


def _plans(layout: StackLayout) -> dict[str, ServicePlan]:
    plans = {"crm-sandbox": plan.sandbox_plan(layout)}
    for name in plan.AIRFLOW_PARTS:
        plans[name] = plan.airflow_plan(name, layout)
    for index, hostname in enumerate(plan.WORKERS):
        plans[hostname] = plan.worker_plan(hostname, layout, serve_logs=index == 0)
    return plans


def compose_name(process: str) -> str:
    return "airflow-worker" if process in plan.WORKERS else process


def _start(
    stack: CeleryStack, layout: StackLayout
) -> tuple[dict[str, ServicePlan], dict[str, float]]:
    for name in ("postgres", "books-warehouse"):
        stack.start_postgres(name, **plan.database_settings(name))
    stack.start_redis("redis")
    (layout.root / "airflow-home").mkdir(parents=True, exist_ok=True)
    stack.run(plan.init_plan(layout), timeout=600)
    plans = _plans(layout)
    for name in SERVICES:
        stack.start(plans[name])
    checks = [plan.healthcheck_plan(plans[n], compose_name(n), layout) for n in SERVICES]
    return plans, stack.wait_healthy(checks, timeout=420)


@pytest.fixture(scope="module")
def celery_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    missing = [tool for tool in ("redis-server",) if shutil.which(tool) is None]
    if missing:
        message = f"{missing} not installed (apt-get install redis-server)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    layout = StackLayout(tmp_path_factory.mktemp("celery-stack"))
    stack = CeleryStack(layout)
    started = time.monotonic()
    try:
        plans, health = _start(stack, layout)
        init_env = plan.environment("airflow-init")
        api = AirflowApi(
            f"http://{layout.host}:{layout.port('airflow-apiserver')}",
            init_env["_AIRFLOW_WWW_USER_USERNAME"],
            init_env["_AIRFLOW_WWW_USER_PASSWORD"],
        )
        running = RunningStack(stack, layout, api, plans, health, time.monotonic() - started)
        print(f"\nstack up in {running.started_in:.0f} s; logs in {layout.log_dir}")
        yield running
        api.close()
    finally:
        stack.stop()
