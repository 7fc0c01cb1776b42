"""SQL statement files under include/sql, run with bind parameters."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, Connection, Engine, TextClause, bindparam, text

from crm_books import config

Params = dict[str, Any] | list[dict[str, Any]] | None
# What a ``{{placeholder}}`` may be filled with: a table or column name, never a value.
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


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
    conn: Connection, name: str, params: Params = None, names: Mapping[str, str] | None = None
) -> Any:
    """Execute a SQL file with bind parameters; a file of several statements runs them in order.

    Returns the result of the last statement that returns rows (a query, or a write with
    RETURNING), else of the last statement: a step's file may count before it writes. A list or
    tuple parameter fills ``WHERE id IN :ids`` on both backends. ``names`` fills the file's
    ``{{placeholder}}`` table and column names, for one file that serves several tables.
    """
    statements = split_statements(with_names(sql(name, dialect(conn)), names or {}))
    result: Any = None
    returned: Any = None
    for position, statement in enumerate(statements, start=1):
        result = conn.execute(_clause(statement, params, dialect(conn)), params or {})
        if result.returns_rows:
            # Rows a later statement would run after are read out of the driver's cursor first.
            returned = result if position == len(statements) else result.freeze()()
    return returned if returned is not None else result


def count_returned(conn: Connection, name: str, params: Params = None) -> Counter[str]:
    """Execute a SQL file; how many rows its writes returned, by their first column.

    A write counts itself with ``RETURNING 'deleted'``: the count is what it changed, taken from
    the write instead of from a query run before it.
    """
    counts: Counter[str] = Counter()
    for statement in split_statements(sql(name, dialect(conn))):
        result = conn.execute(_clause(statement, params, dialect(conn)), params or {})
        if result.returns_rows:
            # The driver's own rows: a first import returns a row per customer, and SQLAlchemy's
            # row objects cost more than the count (0.8 s against 0.2 s for 440,000 rows).
            counts.update(str(row[0]) for row in result.cursor.fetchall())
            result.close()
    return counts


def with_names(script: str, names: Mapping[str, str]) -> str:
    """``script`` with each ``{{placeholder}}`` replaced by its table or column name in ``names``.

    A placeholder without a name, or a name that is not a plain (schema-qualified) lower-case
    identifier, is refused: values always travel as bind parameters."""

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in names:
            raise KeyError(f"no name given for {{{{{key}}}}}")
        if not _IDENTIFIER.fullmatch(names[key]):
            raise ValueError(f"{names[key]!r} is not a table or column name")
        return names[key]

    return _PLACEHOLDER.sub(fill, script)


def _clause(statement: str, params: Params, dialect_name: str) -> TextClause:
    """``IN :ids`` with a list: one array parameter on PostgreSQL, an expanding list on SQLite.

    PostgreSQL binds a list as one array (``= ANY``); as thousands of separate values the same
    query took ten times as long (100,000 ids: 5 s instead of 0.5 s)."""
    lists = (
        [k for k, v in params.items() if isinstance(v, list | tuple)]
        if isinstance(params, dict)
        else []
    )
    expanding: list[BindParameter[Any]] = []
    for name in lists:
        in_list = re.compile(rf"\bIN\s+:{re.escape(name)}\b", re.IGNORECASE)
        if not in_list.search(statement):
            continue
        if dialect_name == "postgresql":
            statement = in_list.sub(f"= ANY(:{name})", statement)
        else:
            expanding.append(bindparam(name, expanding=True))
    clause = text(statement)
    return clause.bindparams(*expanding) if expanding else clause


def split_statements(script: str) -> list[str]:
    """Split a migration script on semicolons that end a line; comments are dropped."""
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [p.strip() for p in parts if p.strip()]


def dialect(conn_or_engine: Connection | Engine) -> str:
    return conn_or_engine.dialect.name
