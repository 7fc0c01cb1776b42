"""Failures no retry can fix: which library errors they are, and failing such a task at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk.exceptions import AirflowFailException

# Zoho answers that only a change of the zoho_crm connection, the OAuth client or the CRM user's
# permissions can cure (crm_client.likely_fix names the change). 429, 5xx, timeouts, connection
# errors and Zoho accounts' "Access Denied" throttling stay retryable.
_CRM_CONFIGURATION_CODES = frozenset(
    {
        "AUTHENTICATION_FAILURE",
        "INVALID_CLIENT",
        "INVALID_CLIENT_SECRET",
        "INVALID_CODE",
        "INVALID_MODULE",
        "INVALID_TOKEN",
        "INVALID_URL_PATTERN",
        "NO_ORG",
        "NO_PERMISSION",
        "OAUTH_SCOPE_MISMATCH",
        "UNAUTHORIZED_CLIENT",
        "UNSUPPORTED_GRANT_TYPE",
    }
)


def needs_a_fix(exc: BaseException) -> bool:
    """True when only a person can cure ``exc``: a setting, a connection or the CRM's data.

    A warehouse that cannot be reached (WarehouseConnectionError) is not one: it may come back.
    """
    # Imported here: only a failing task pays for them.
    from crm_books.customers.organization import OrganizationMismatchError
    from crm_books.customers.quality import QualityGateError
    from crm_books.deals.settings import StageSettingError
    from crm_books.deals.stages import WorkflowSettingError
    from crm_books.manual_documents import DocumentRefused
    from crm_books.warehouse.engine import WarehouseConfigError
    from crm_books.zoho.errors import CrmApiError
    from crm_books.zoho.hook import CrmConnectionError

    if isinstance(exc, CrmApiError):
        return exc.status in {401, 403} or exc.code.upper() in _CRM_CONFIGURATION_CODES
    return isinstance(
        exc,
        (
            CrmConnectionError,
            DocumentRefused,
            OrganizationMismatchError,
            QualityGateError,
            StageSettingError,
            WarehouseConfigError,
            WorkflowSettingError,
        ),
    )


def refuse(message: str) -> AirflowFailException:
    """The exception that fails a task at once, without its retries."""
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(message)


@contextmanager
def fail_fast() -> Iterator[None]:
    """Re-raise an error no retry can fix as AirflowFailException, so the task fails at once
    instead of retrying for minutes; every other error keeps the task's retries."""
    try:
        yield
    except Exception as exc:
        if not needs_a_fix(exc):
            raise
        raise refuse(str(exc)) from exc
