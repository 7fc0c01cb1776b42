"""Airflow's SimpleAuthManager with known users, for tests that call Airflow's API in-process."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)


def simple_auth(
    setenv: Callable[[str, str], None], folder: Path, users: Mapping[str, tuple[str, str]]
) -> None:
    """Set Airflow's auth environment: ``users`` maps a name to (role, password)."""
    passwords = folder / "passwords.json"
    passwords.write_text(json.dumps({name: password for name, (_, password) in users.items()}))
    setenv("AIRFLOW__CORE__AUTH_MANAGER", SIMPLE_AUTH_MANAGER)
    setenv(
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
        ",".join(f"{name}:{role}" for name, (role, _) in users.items()),
    )
    setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
    setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    setenv("AIRFLOW__API_AUTH__JWT_SECRET", "test-secret-" + "x" * 64)
