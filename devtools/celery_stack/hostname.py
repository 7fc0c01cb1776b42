"""Airflow's ``[core] hostname_callable`` for several workers on one machine: each names itself."""

from __future__ import annotations

import os
import socket

HOSTNAME_VARIABLE = "CRM_BOOKS_TASK_HOSTNAME"


def task_hostname() -> str:
    """The process's CRM_BOOKS_TASK_HOSTNAME, else the machine's FQDN (Airflow's default)."""
    return os.environ.get(HOSTNAME_VARIABLE) or socket.getfqdn()
