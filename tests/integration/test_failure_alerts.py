"""Failed runs mail the operator through Airflow's SmtpNotifier, when switched on (off by default)."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_string
from email.message import Message

import pytest

from crm_books.airflow_tasks.alerts import alert_recipients
from tests.dag_runs import run_dag

MERGE = "books_merge_customers"
# A real merge without its confirmation word fails check_merge at once (no warehouse needed).
FAILING_CONF = {
    "master_customer_id": 1,
    "merge_customer_ids": [2],
    "dry_run": False,
    "confirm": "",
}


class _SmtpSession(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: every command accepted, each DATA kept as one mail."""

    def handle(self) -> None:
        self._reply("220 crm-books-test ESMTP")
        while line := self.rfile.readline().decode():
            verb = line.strip().split(" ", 1)[0].upper()
            if verb == "DATA":
                self._reply("354 end with <CRLF>.<CRLF>")
                body = []
                while (part := self.rfile.readline().decode()) not in {".\r\n", ".\n", ""}:
                    body.append(part[1:] if part.startswith("..") else part)
                self.server.mails.append(message_from_string("".join(body)))  # type: ignore[attr-defined]
                self._reply("250 queued")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("250 ok")

    def _reply(self, text: str) -> None:
        self.wfile.write(f"{text}\r\n".encode())


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[Message]]]:
    """An SMTP server on loopback and the mails it received."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpSession)
    server.daemon_threads = True
    server.mails = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.mails  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def _smtp_connection(port: int, **extra: object) -> str:
    return json.dumps(
        {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "extra": {
                "from_email": "airflow@crm-books.test",
                "disable_ssl": True,
                "disable_tls": True,
                "timeout": 5,
                "retry_limit": 0,
                **extra,
            },
        }
    )


def _text(mail: Message) -> str:
    parts = [p.get_payload(decode=True) for p in mail.walk() if not p.is_multipart()]
    return " ".join(p.decode() for p in parts if isinstance(p, bytes))


def test_a_failed_run_sends_one_mail_naming_the_dag_run_and_task(
    airflow_db: object, smtp_server: tuple[int, list[Message]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, mails = smtp_server
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_BOOKS_ALERTS_SMTP", _smtp_connection(port, to="ops@crm-books.test")
    )
    outcome = run_dag(MERGE, datetime(2026, 11, 2, tzinfo=UTC), FAILING_CONF)
    assert outcome.state == "failed"
    assert outcome.task_states == {"check_merge": "failed", "merge_customers": "upstream_failed"}
    assert len(mails) == 1, [m["Subject"] for m in mails]
    mail = mails[0]
    assert mail["To"] == "ops@crm-books.test"
    assert mail["From"] == "airflow@crm-books.test"
    subject = str(mail["Subject"])
    assert MERGE in subject and "check_merge" in subject and outcome.run_id in subject
    body = _text(mail)
    for part in (MERGE, outcome.run_id, "check_merge", "type MERGE in the confirm field"):
        assert part in body, (part, body)


def test_alerts_are_off_by_default_and_the_variable_switches_them(
    airflow_db: object, smtp_server: tuple[int, list[Message]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, mails = smtp_server
    # No connection, no Variable: the run fails, nobody is mailed.
    monkeypatch.delenv("AIRFLOW_CONN_CRM_BOOKS_ALERTS_SMTP", raising=False)
    assert run_dag(MERGE, datetime(2026, 11, 3, tzinfo=UTC), FAILING_CONF).state == "failed"
    # A connection without recipients stays off; the Variable names them.
    monkeypatch.setenv("AIRFLOW_CONN_CRM_BOOKS_ALERTS_SMTP", _smtp_connection(port))
    assert run_dag(MERGE, datetime(2026, 11, 4, tzinfo=UTC), FAILING_CONF).state == "failed"
    assert mails == []
    monkeypatch.setenv("AIRFLOW_VAR_CRM_BOOKS_FAILURE_ALERTS", "oncall@crm-books.test")
    assert run_dag(MERGE, datetime(2026, 11, 5, tzinfo=UTC), FAILING_CONF).state == "failed"
    assert [m["To"] for m in mails] == ["oncall@crm-books.test"]


def test_an_unreachable_mail_server_never_masks_the_failure(
    airflow_db: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_BOOKS_ALERTS_SMTP", _smtp_connection(closed_port, to="ops@x.test")
    )
    outcome = run_dag(MERGE, datetime(2026, 11, 6, tzinfo=UTC), FAILING_CONF)
    assert outcome.task_states["check_merge"] == "failed"


@pytest.mark.parametrize(
    ("variable", "connection_to", "expected"),
    [
        (None, None, []),
        ("", None, []),
        (None, "ops@x.test", ["ops@x.test"]),
        ("a@x.test, b@x.test", "ops@x.test", ["a@x.test", "b@x.test"]),
        ("a@x.test; b@x.test", None, ["a@x.test", "b@x.test"]),
        ("off", "ops@x.test", []),
        ("OFF", None, []),
    ],
)
def test_who_is_mailed(
    variable: str | None, connection_to: str | None, expected: list[str]
) -> None:
    assert alert_recipients(variable, connection_to) == expected
