"""Which failures fail a task at once and which keep its retries (issue 11, defect 5)."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException
from sqlalchemy.exc import OperationalError

from crm_books.airflow_tasks.failures import fail_fast, needs_a_fix
from crm_books.warehouse.engine import WarehouseConnectionError
from crm_books.zoho.errors import CrmApiError


@pytest.mark.parametrize(
    ("error", "hopeless"),
    [
        (CrmApiError(200, "invalid_client", "token refresh refused"), True),
        (CrmApiError(200, "invalid_code", "token refresh refused"), True),
        (CrmApiError(401, "INVALID_TOKEN", "GET /crm/v8/org"), True),
        (CrmApiError(403, "NO_PERMISSION", "GET /crm/v8/Accounts"), True),
        (CrmApiError(401, "OAUTH_SCOPE_MISMATCH", "GET /crm/v8/Accounts"), True),
        (CrmApiError(429, "TOO_MANY_REQUESTS", "gave up after 6 attempts"), False),
        (CrmApiError(503, "HTTP_503", "gave up after 6 attempts"), False),
        (CrmApiError(None, "CONNECTION_ERROR", "ConnectionError: refused"), False),
        (CrmApiError(200, "Access Denied", "too many requests"), False),
        (WarehouseConnectionError("cannot connect to the books_warehouse connection"), False),
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")), False),
        (RuntimeError("anything else"), False),
    ],
)
def test_credentials_and_scopes_fail_at_once_throttling_and_outages_keep_retries(
    error: Exception, hopeless: bool
) -> None:
    assert needs_a_fix(error) is hopeless


def test_fail_fast_keeps_the_message_and_the_cause() -> None:
    cause = CrmApiError(200, "invalid_client", "token refresh refused")
    with (
        pytest.raises(AirflowFailException, match=r"invalid_client.*client secret") as caught,
        fail_fast(),
    ):
        raise cause
    assert caught.value.__cause__ is cause
    with pytest.raises(CrmApiError, match="HTTP 503"), fail_fast():
        raise CrmApiError(503, "HTTP_503", "gave up")


@pytest.mark.parametrize("fraction", [5, 20, -0.1, 1.0001])
def test_a_plan_whose_reject_fraction_is_not_a_fraction_fails_at_once(fraction: float) -> None:
    """A run created without the form's checks is refused, never clamped to 0-1."""
    from crm_books.airflow_tasks.sync import checked_run

    with pytest.raises(AirflowFailException, match="must be a fraction from 0 to 1"):
        checked_run({"run_id": "manual__x", "max_reject_fraction": fraction})


@pytest.mark.parametrize("fraction", [0, 0.2, 1])
def test_a_plan_with_a_fraction_in_bounds_keeps_it(fraction: float) -> None:
    from crm_books.airflow_tasks.sync import checked_run

    assert (
        checked_run({"run_id": "manual__x", "max_reject_fraction": fraction}).max_reject_fraction
        == fraction
    )
