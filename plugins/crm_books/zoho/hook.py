"""Airflow hook that builds a ZohoCrmClient from the `zoho_crm` connection."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret
from sqlalchemy import inspect

from crm_books.config import CRM_CONN_ID, WAREHOUSE_CONN_ID
from crm_books.zoho.auth import CrmCredentials, MemoryTokenStore, TokenStore
from crm_books.zoho.bulk import bulk_read_threshold_from
from crm_books.zoho.client import ZohoCrmClient
from crm_books.zoho.errors import CrmApiError
from crm_books.zoho.limiter import DEFAULT_MAX_CONCURRENCY, CallLimiter, database_limiter
from crm_books.zoho.retry import RetryPolicy

if TYPE_CHECKING:
    from airflow.sdk.definitions.connection import Connection

log = logging.getLogger(__name__)

DEFAULT_ACCOUNTS_URL = "https://accounts.zoho.com"
# The UI's Test button waits for the answer: fail within seconds, not a task's five minutes.
TEST_RETRY = RetryPolicy(max_attempts=2, max_delay=2.0, max_total_seconds=10.0)
TEST_TIMEOUT_SECONDS = 10.0


class CrmConnectionError(ValueError):
    """The `zoho_crm` connection is missing a piece the client needs."""


class ZohoCrmHook(BaseHook):
    """Reads the `zoho_crm` connection and hands out a configured ZohoCrmClient.

    The connection: host = API base URL (e.g. https://www.zohoapis.com), login = client id,
    password = client secret, extra = {"refresh_token": ..., "accounts_url": ...,
    "max_concurrency": 4}. Clients share their access token through the warehouse
    (books.crm_access_tokens, when the `books_warehouse` connection exists) and their calls in
    flight through a limiter of `max_concurrency` slots: advisory locks in a PostgreSQL
    warehouse (every host), else flocks on this host (zoho/limiter.py).

    :param zoho_crm_conn_id: id of the Airflow connection to read.
    """

    conn_name_attr = "zoho_crm_conn_id"
    default_conn_name = CRM_CONN_ID
    conn_type = "http"
    hook_name = "Zoho CRM"

    def __init__(self, *, zoho_crm_conn_id: str = CRM_CONN_ID) -> None:
        super().__init__()
        self.zoho_crm_conn_id = zoho_crm_conn_id

    def get_conn(self) -> ZohoCrmClient:
        """Same as get_client (the BaseHook interface)."""
        return self.get_client()

    def get_client(self, **client_options: Any) -> ZohoCrmClient:
        """A client for the connection; each access token is masked in Airflow logs.

        :param client_options: keyword options passed on to ZohoCrmClient (retry, timeout, ...);
            by default the token store is the warehouse's, `max_concurrency` the extra's and
            the limiter the warehouse's (PostgreSQL) or this host's.
        """
        conn = self.get_connection(self.zoho_crm_conn_id)
        credentials = credentials_from_connection(conn)
        mask_secret(credentials.refresh_token)
        client_options.setdefault("max_concurrency", max_concurrency_from(conn))
        client_options.setdefault("bulk_read_threshold", bulk_read_threshold_of(conn))
        if client_options["max_concurrency"] and "limiter" not in client_options:
            client_options["limiter"] = warehouse_limiter(
                credentials, client_options["max_concurrency"]
            )
        if "token_store" not in client_options and "authenticator" not in client_options:
            client_options["token_store"] = warehouse_token_store(credentials)
        return ZohoCrmClient(credentials, on_token=mask_secret, **client_options)

    def test_connection(self) -> tuple[bool, str]:
        """What the Airflow UI's Test button shows: the organisation reached, or why not."""
        try:
            # Its own token and this host's limiter: the Test button must work before the
            # warehouse is set up.
            client = self.get_client(
                retry=TEST_RETRY,
                timeout=TEST_TIMEOUT_SECONDS,
                token_store=MemoryTokenStore(),
                limiter=None,
            )
            org = client.organization()
        except (CrmApiError, CrmConnectionError) as exc:  # both name the likely fix
            return False, str(exc)
        name, org_id = org.get("company_name"), org.get("id")
        return True, f"Connected to Zoho CRM organisation {name} ({org_id})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Labels for the connection form in the Airflow UI."""
        return {
            "hidden_fields": [],
            "relabeling": {
                "schema": "Scheme (http or https, if the host has none)",
                "host": "API base URL",
                "login": "Client ID",
                "password": "Client secret",
            },
            "placeholders": {
                "host": "https://www.zohoapis.com",
                "login": "1000.XXXXXXXX",
                "extra": (
                    '{"refresh_token": "1000.xxxx", "accounts_url": "https://accounts.zoho.com", '
                    '"max_concurrency": 4, "bulk_read_threshold": 50000}'
                ),
            },
        }


def credentials_from_connection(conn: Connection) -> CrmCredentials:
    """CrmCredentials from a connection, or a CrmConnectionError naming the field to fill."""
    name = conn.conn_id
    if not conn.host:
        raise CrmConnectionError(
            f"Connection {name!r}: set host to the Zoho API base URL, e.g. https://www.zohoapis.com"
        )
    if not conn.login:
        raise CrmConnectionError(f"Connection {name!r}: set login to the OAuth client id")
    if not conn.password:
        raise CrmConnectionError(f"Connection {name!r}: set password to the OAuth client secret")
    extra = conn.extra_dejson or {}
    refresh_token = extra.get("refresh_token")
    if not refresh_token:
        raise CrmConnectionError(
            f'Connection {name!r}: set extra {{"refresh_token": ...}} to the OAuth refresh token'
        )
    return CrmCredentials(
        api_base_url=api_base_url(conn.host, conn.schema, conn.port),
        accounts_url=str(extra.get("accounts_url") or DEFAULT_ACCOUNTS_URL).rstrip("/"),
        client_id=str(conn.login),
        client_secret=str(conn.password),
        refresh_token=str(refresh_token),
    )


def bulk_read_threshold_of(conn: Connection) -> int | None:
    """The extra's `bulk_read_threshold` (zoho/bulk.py), or a CrmConnectionError naming it."""
    try:
        return bulk_read_threshold_from(conn.extra_dejson or {})
    except ValueError as error:
        raise CrmConnectionError(f"Connection {conn.conn_id!r}: {error}") from error


def max_concurrency_from(conn: Connection) -> int:
    """The extra's `max_concurrency` (API calls in flight for the org's app), 4 when unset."""
    value = (conn.extra_dejson or {}).get("max_concurrency", DEFAULT_MAX_CONCURRENCY)
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(value).strip() != str(number):
        raise CrmConnectionError(
            f"Connection {conn.conn_id!r}: extra max_concurrency must be a whole number of API "
            f"calls in flight, at least 1 (got {value!r}); leave it out for "
            f"{DEFAULT_MAX_CONCURRENCY}, or use at most the org's cap (Free 5, Standard 10, "
            "Professional 15, Enterprise 20, Ultimate 25) less what other apps use"
        )
    return number


def warehouse_token_store(
    credentials: CrmCredentials, conn_id: str = WAREHOUSE_CONN_ID
) -> TokenStore | None:
    """The access-token store in the warehouse of `conn_id`; None (each client keeps its own
    token) when that connection does not exist, e.g. where only the CRM is configured, or its
    warehouse is not migrated yet."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    from crm_books.warehouse.engine import WarehouseConfigError, warehouse_engine
    from crm_books.zoho.token_store import TOKEN_TABLE, WarehouseTokenStore

    try:
        reader = warehouse_engine(conn_id, read_only=True)
    except AirflowNotFoundException:
        log.warning("No %s connection: this client's access token is not shared", conn_id)
        return None
    try:
        migrated = inspect(reader).has_table(TOKEN_TABLE, schema="books")
    except WarehouseConfigError:  # e.g. the SQLite file is not created yet
        migrated = False
    if not migrated:
        log.warning(
            "The %s warehouse has no books.%s yet (ensure_schema migrates it): this client's "
            "access token is not shared",
            conn_id,
            TOKEN_TABLE,
        )
        return None
    return WarehouseTokenStore(warehouse_engine(conn_id), credentials, reader=reader)


def warehouse_limiter(
    credentials: CrmCredentials, max_concurrency: int, conn_id: str = WAREHOUSE_CONN_ID
) -> CallLimiter | None:
    """The limiter shared by every host through the PostgreSQL warehouse of `conn_id`; None (the
    client then uses this host's) for a SQLite warehouse, one host by definition, or none."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    from crm_books.warehouse.engine import warehouse_url

    try:
        url = warehouse_url(conn_id)
    except AirflowNotFoundException:
        return None
    if url.get_backend_name() != "postgresql":
        return None
    return database_limiter(url, credentials.api_base_url, credentials.client_id, max_concurrency)


def api_base_url(host: str, schema: str | None = None, port: int | None = None) -> str:
    """`https://host[:port]` from the connection's host, schema (http/https) and port."""
    host = host.strip().rstrip("/")
    if "://" not in host:
        scheme = schema if schema in {"http", "https"} else "https"
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path}"


def crm_client(conn_id: str = CRM_CONN_ID) -> ZohoCrmClient:
    """A client for the connection `conn_id` (the `zoho_crm` connection by default)."""
    return ZohoCrmHook(zoho_crm_conn_id=conn_id).get_client()
