"""Engines and CRM clients built from the Airflow connections books_warehouse and zoho_crm."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.engine import URL

from crm_books import settings
from crm_books.warehouse import WarehouseConfigError, create_warehouse_engine

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from crm_books.crm_client import ZohoCrmClient


def warehouse_uri(conn_id: str = settings.WAREHOUSE_CONN_ID) -> str:
    """The warehouse URI from an Airflow connection (PostgreSQL or SQLite)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        path = conn.host or conn.schema
        if not path:
            raise WarehouseConfigError(
                f"connection {conn_id} is SQLite but names no file; use sqlite:////absolute/path/books.db"
            )
        return f"sqlite:///{path}"
    if conn_type in {"postgres", "postgresql"}:
        url = URL.create(
            "postgresql+psycopg",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        )
        return url.render_as_string(hide_password=False)
    raise WarehouseConfigError(
        f"connection {conn_id} has type {conn_type!r}; the Books warehouse must be postgres or sqlite"
    )


def warehouse_engine(conn_id: str = settings.WAREHOUSE_CONN_ID) -> Engine:
    return create_warehouse_engine(warehouse_uri(conn_id), conn_id=conn_id)


def crm_client(conn_id: str = settings.CRM_CONN_ID) -> ZohoCrmClient:
    from crm_books.crm_hook import ZohoCrmHook

    return ZohoCrmHook(zoho_crm_conn_id=conn_id).get_client()
