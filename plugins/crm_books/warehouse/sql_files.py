"""SQL statement files under include/sql, run with bind parameters."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    text,
)

from crm_books import config


@cache
def _read_sql(name: str) -> str:
    path = config.SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} is missing")
    return path.read_text(encoding="utf-8")


def sql(name: str, dialect_name: str | None = None) -> str:
    """The text of ``include/sql/<name>.sql``; a ``<name>.<dialect>.sql`` sibling wins when present."""
    if dialect_name is not None:
        variant = config.SQL_DIR / f"{name}.{dialect_name}.sql"
        if variant.is_file():
            return _read_sql(f"{name}.{dialect_name}")
    return _read_sql(name)


def run_sql(
    conn: Connection, name: str, params: dict[str, Any] | list[dict[str, Any]] | None = None
) -> Any:
    """Execute a SQL file with bind parameters; a file of several statements runs them in order.

    Returns the result of the last statement.
    """
    result = None
    for statement in split_statements(sql(name, dialect(conn))):
        result = conn.execute(text(statement), params or {})
    return result


def split_statements(script: str) -> list[str]:
    """Split a migration script on semicolons that end a line; comments are dropped."""
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [p.strip() for p in parts if p.strip()]


def dialect(conn_or_engine: Connection | Engine) -> str:
    return conn_or_engine.dialect.name
