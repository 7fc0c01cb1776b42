"""A CeleryExecutor stack on loopback (PostgreSQL, Redis, sandbox, Airflow's parts, Celery
workers) started as child processes, bounded in time, and stopped by process group."""

from devtools.celery_stack.processes import ProcessGroup
from devtools.celery_stack.stack import CeleryStack, ServicePlan, StackLayout

__all__ = ["CeleryStack", "ProcessGroup", "ServicePlan", "StackLayout"]
