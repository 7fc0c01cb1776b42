"""Failure mails: a failed task notifies through Airflow's SmtpNotifier when alerts are switched on."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from airflow.sdk import BaseNotifier

from crm_books import config

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

OFF = "off"
SUBJECT = "[crm-books] {{ dag.dag_id }} failed: task {{ ti.task_id }} of run {{ run_id }}"
BODY = (
    "<p>DAG <b>{{ dag.dag_id }}</b>, run <b>{{ run_id }}</b>: task <b>{{ ti.task_id }}</b>"
    "{% if ti.map_index is not none and ti.map_index >= 0 %} (map index {{ ti.map_index }})"
    "{% endif %} failed after try {{ ti.try_number }}.</p>"
    "<p>Error: {{ exception }}</p>"
    "<p>Log: {{ ti.log_url }}</p>"
)


def alert_recipients(variable: str | None, connection_to: str | None) -> list[str]:
    """Who gets failure mails: the Variable's addresses, else the connection's ``to`` extra.

    The Variable set to ``off`` switches mails off even when the connection exists; neither set
    means off (the default).
    """
    chosen = (variable or "").strip()
    if chosen.lower() == OFF:
        return []
    text = chosen or (connection_to or "")
    return [address.strip() for address in text.replace(";", ",").split(",") if address.strip()]


class FailureAlert(BaseNotifier):
    """Mail a failed task's DAG, run, task and error through SmtpNotifier, when alerts are on.

    Off by default. On when the Airflow Variable ``crm_books_failure_alerts`` names recipients,
    or the connection ``crm_books_alerts_smtp`` exists with ``{"to": ...}`` in its extra.

    :param smtp_conn_id: the SMTP connection (host, port, login, password; extra ``from_email``).
    :param variable: the Variable holding the recipients, or ``off``.
    """

    template_fields = ()

    def __init__(
        self,
        *,
        smtp_conn_id: str = config.ALERTS_SMTP_CONN_ID,
        variable: str = config.ALERTS_VARIABLE,
    ) -> None:
        super().__init__()
        self.smtp_conn_id = smtp_conn_id
        self.variable = variable

    def notify(self, context: Context) -> None:
        """Send one mail for this failure, or log why none is sent; never raise."""
        try:
            recipients = self._recipients()
            if not recipients:
                log.info(
                    "failure alerts are off: set the Variable %s to recipient addresses or add "
                    'the connection %s with {"to": ...} in its extra',
                    self.variable,
                    self.smtp_conn_id,
                )
                return
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            mail = SmtpNotifier(
                to=recipients, smtp_conn_id=self.smtp_conn_id, subject=SUBJECT, html_content=BODY
            )
            mail(context)
            log.info("failure alert mailed to %s", ", ".join(recipients))
        except Exception:  # an alert must never mask the task's own error
            log.exception(
                "could not mail the failure alert: check the connection %s (host, port, "
                "from_email) and the Variable %s",
                self.smtp_conn_id,
                self.variable,
            )

    def _recipients(self) -> list[str]:
        from airflow.sdk import Connection, Variable
        from airflow.sdk.exceptions import AirflowNotFoundException

        variable = Variable.get(self.variable, default=None)
        try:
            extra = Connection.get(self.smtp_conn_id).extra_dejson
        except AirflowNotFoundException:  # no such connection: alerts off unless the Variable says
            extra = {}
        return alert_recipients(variable, extra.get("to"))
