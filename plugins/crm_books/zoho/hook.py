"""Airflow hook that builds a ZohoCrmClient from the `zoho_crm` connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from crm_books.config import CRM_CONN_ID
from crm_books.zoho.auth import CrmCredentials
from crm_books.zoho.client import ZohoCrmClient
from crm_books.zoho.errors import CrmApiError
from crm_books.zoho.retry import RetryPolicy

if TYPE_CHECKING:
    from airflow.sdk.definitions.connection import Connection

DEFAULT_ACCOUNTS_URL = "https://accounts.zoho.com"
# The UI's Test button waits for the answer: fail within seconds, not a task's five minutes.
TEST_RETRY = RetryPolicy(max_attempts=2, max_delay=2.0, max_total_seconds=10.0)
TEST_TIMEOUT_SECONDS = 10.0


class CrmConnectionError(ValueError):
    """The `zoho_crm` connection is missing a piece the client needs."""


class ZohoCrmHook(BaseHook):
    """Reads the `zoho_crm` connection and hands out a configured ZohoCrmClient.

    The connection: host = API base URL (e.g. https://www.zohoapis.com), login = client id,
    password = client secret, extra = {"refresh_token": ..., "accounts_url": ...}.

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
        """A client for the connection; each new access token is masked in Airflow logs.

        :param client_options: keyword options passed on to ZohoCrmClient (retry, timeout, ...).
        """
        conn = self.get_connection(self.zoho_crm_conn_id)
        credentials = credentials_from_connection(conn)
        mask_secret(credentials.refresh_token)
        return ZohoCrmClient(credentials, on_token=mask_secret, **client_options)

    def test_connection(self) -> tuple[bool, str]:
        """What the Airflow UI's Test button shows: the organisation reached, or why not."""
        try:
            client = self.get_client(retry=TEST_RETRY, timeout=TEST_TIMEOUT_SECONDS)
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
                "extra": '{"refresh_token": "1000.xxxx", "accounts_url": "https://accounts.zoho.com"}',
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
