"""Sensor that waits until potential_reconcile has work: changed or deleted Deals, or customers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

from crm_books.config import CRM_CONN_ID, WAREHOUSE_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context


class DealChangesSensor(BaseSensorOperator):
    """Wait until the CRM reports Deals modified or deleted since the reconciled high-water marks,
    or until a pending deal's customer has landed in the Books warehouse.

    Each poke first checks the warehouse (one cheap query for pending deals whose customer now
    exists), then asks the CRM for Deals with ``If-Modified-Since`` set to the Deals high-water
    mark (HTTP 304 / 204 mean nothing changed; the deals at exactly the mark are compared with
    what the warehouse recorded) and stops at the first page with news, then for deleted Deals
    the warehouse still holds as live. It also reads the workflow Variables, so a mistyped
    setting fails the run instead of waiting quietly.
    Use ``mode="reschedule"`` so no worker slot is held between pokes, and ``soft_fail=True`` so
    a quiet period ends the run as skipped.

    :param zoho_crm_conn_id: Airflow connection of the Zoho CRM (templated).
    :param books_warehouse_conn_id: Airflow connection of the Books warehouse (templated).
    :param max_pages: pages of the deleted-Deals listing read per poke at most.
    """

    template_fields: Sequence[str] = ("zoho_crm_conn_id", "books_warehouse_conn_id")
    ui_color = "#d9ecf2"

    def __init__(
        self,
        *,
        zoho_crm_conn_id: str = CRM_CONN_ID,
        books_warehouse_conn_id: str = WAREHOUSE_CONN_ID,
        max_pages: int = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.zoho_crm_conn_id = zoho_crm_conn_id
        self.books_warehouse_conn_id = books_warehouse_conn_id
        self.max_pages = max_pages

    def execute(self, context: Context) -> Any:
        """Fail at once on what no retry can fix (a mistyped Variable, a refused CRM login).

        The mapping wraps ``execute``, not ``poke``: with ``soft_fail`` the base sensor would turn
        an AirflowFailException raised in ``poke`` into a quiet skip.
        """
        from crm_books.airflow_tasks.failures import fail_fast

        with fail_fast():
            return super().execute(context)

    def poke(self, context: Context) -> bool:
        from crm_books.deals.settings import read_settings
        from crm_books.deals.work_check import check_for_work
        from crm_books.warehouse.engine import warehouse_engine
        from crm_books.zoho.hook import ZohoCrmHook

        workflow, _ = read_settings()
        client = ZohoCrmHook(zoho_crm_conn_id=self.zoho_crm_conn_id).get_client()
        engine = warehouse_engine(self.books_warehouse_conn_id)
        try:
            found = check_for_work(engine, client, max_pages=self.max_pages)
        finally:
            engine.dispose()
        if found.ready:
            self.log.info("work for the %s workflow: %s", workflow, found.describe())
        else:
            self.log.info("no Deals changed or deleted and no awaited customer arrived; waiting")
        return found.ready
