"""Bulk inserts: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import (
    Connection,
    column,
    insert,
    table,
)

from crm_books import config
from crm_books.warehouse.sql_files import dialect

# Rows per executemany on SQLite: bounded memory, few round trips through the driver.
SQLITE_BATCH = 10_000


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
    # One compiled INSERT, its rows as plain tuples: SQLAlchemy's executemany of dicts costs
    # several times the CPU of sqlite3's own (about 1.3 s against 0.4 s for 50,000 customer rows).
    target = table(table_name, *(column(c) for c in columns), schema=config.SCHEMA)
    compiled = insert(target).compile(dialect=conn.dialect)
    order = [columns.index(name) for name in compiled.positiontup or ()]
    insert_sql = str(compiled)
    for batch in _batches(rows, SQLITE_BATCH):
        if order != list(range(len(columns))):
            batch = [tuple(row[i] for i in order) for row in batch]
        conn.exec_driver_sql(insert_sql, batch)
        count += len(batch)
    return count


def _batches(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch
