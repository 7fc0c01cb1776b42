"""The local connections and Variable of airflow_settings.yaml, seeded into Airflow's metadata DB where absent."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from crm_books import config

SETTINGS_FILE = config.PROJECT_ROOT / "airflow_settings.yaml"
# airflow_settings.yaml field -> Connection field (astro-cli's format, as `astro dev start` reads it).
_FIELDS = {
    "conn_type": "conn_type",
    "conn_host": "host",
    "conn_schema": "schema",
    "conn_login": "login",
    "conn_password": "password",
    "conn_port": "port",
}


@dataclass(frozen=True)
class Seeds:
    """What to put in the metadata DB: conn_id -> fields (as `airflow connections import` reads
    a JSON file, extra in `extra_dejson`), and Variable name -> value."""

    connections: dict[str, dict[str, Any]]
    variables: dict[str, str]


def read_settings_file(path: Path = SETTINGS_FILE) -> Seeds:
    """airflow_settings.yaml's connections and variables, empty fields left out."""
    airflow = yaml.safe_load(path.read_text())["airflow"]
    connections: dict[str, dict[str, Any]] = {}
    for entry in airflow.get("connections") or []:
        fields = {ours: entry[theirs] for theirs, ours in _FIELDS.items() if entry.get(theirs)}
        if entry.get("conn_extra"):
            fields["extra_dejson"] = dict(entry["conn_extra"])
        connections[entry["conn_id"]] = fields
    variables = {
        v["variable_name"]: str(v["variable_value"]) for v in airflow.get("variables") or []
    }
    return Seeds(connections, variables)


def local_seeds(sandbox_url: str, warehouse_file: Path, *, workflow: str | None = None) -> Seeds:
    """airflow_settings.yaml with this machine's sandbox URL, warehouse file and, if given, workflow."""
    seeds = read_settings_file()
    crm = seeds.connections[config.CRM_CONN_ID]
    crm["host"] = sandbox_url
    crm["extra_dejson"] = {**crm.get("extra_dejson", {}), "accounts_url": sandbox_url}
    warehouse = seeds.connections[config.WAREHOUSE_CONN_ID]
    warehouse.pop("host", None)
    warehouse["schema"] = str(warehouse_file.resolve())
    if workflow is not None:
        seeds.variables[config.WORKFLOW_VARIABLE] = workflow
    return seeds


def write_import_files(seeds: Seeds, folder: Path) -> tuple[Path, Path]:
    """connections.json and variables.json for `airflow connections import` / `variables import`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "connections.json", folder / "variables.json"
    for path, data in zip(paths, (seeds.connections, seeds.variables), strict=True):
        path.write_text(json.dumps(data, indent=2) + "\n")
        path.chmod(0o600)  # the connections hold (sandbox) secrets
    return paths


def import_commands(connections_file: Path, variables_file: Path) -> list[list[str]]:
    """Airflow's own import commands; both skip an id that is already in the metadata DB."""
    return [
        ["airflow", "connections", "import", str(connections_file)],
        ["airflow", "variables", "import", str(variables_file), "--action-on-existing-key", "skip"],
    ]


def seed_metadata_db(seeds: Seeds, *, replace: Collection[str] = ()) -> None:
    """The same in this process's Airflow: add what is absent, keep what is there, except the
    connection ids in `replace` (a demo's own sandbox moves to a new port every run)."""
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        for conn_id, fields in seeds.connections.items():
            existing = session.scalar(select(Connection).where(Connection.conn_id == conn_id))
            if existing is not None and conn_id not in replace:
                continue
            if existing is not None:
                session.delete(existing)
                session.flush()
            values = {k: v for k, v in fields.items() if k != "extra_dejson"}
            extra = json.dumps(fields["extra_dejson"]) if "extra_dejson" in fields else None
            session.add(Connection(conn_id=conn_id, extra=extra, **values))
        for key, value in seeds.variables.items():
            if session.scalar(select(Variable.key).where(Variable.key == key)) is None:
                session.add(Variable(key=key, val=value))
