"""Bulk inserts: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    column,
    insert,
    table,
)

from crm_books import config
from crm_books.warehouse.sql_files import dialect


def bulk_insert(
    conn: Connection, table_name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert many rows into ``books.<table_name>``: COPY on PostgreSQL, one executemany on SQLite."""
    count = 0
    if dialect(conn) == "postgresql":
        from psycopg import sql as pgsql

        statement = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
            pgsql.Identifier(config.SCHEMA, table_name),
            pgsql.SQL(", ").join(pgsql.Identifier(c) for c in columns),
        )
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    target = table(table_name, *(column(c) for c in columns), schema=config.SCHEMA)
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(dict(zip(columns, row, strict=True)))
        if len(batch) >= 10_000:
            conn.execute(insert(target), batch)
            count += len(batch)
            batch = []
    if batch:
        conn.execute(insert(target), batch)
        count += len(batch)
    return count
