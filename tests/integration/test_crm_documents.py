"""B9 from the CRM side: the documents views' DDL, the reader and `python -m crm_books documents`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crm_books.__main__ import main
from crm_books.customers.merge import merge
from crm_books.customers.merge_rules import MergeRequest
from crm_books.warehouse.migrations import render_ddl
from crm_books.warehouse.timestamps import db_timestamp, utcnow

NOW = db_timestamp(utcnow())


def test_create_view_token_renders_per_backend() -> None:
    ddl = (
        "{{create_view}} books.v AS\nSELECT c.x FROM books.customers AS c JOIN books.t AS t ON true"
    )
    assert render_ddl(ddl, "postgresql") == (
        "CREATE OR REPLACE VIEW books.v AS\n"
        "SELECT c.x FROM books.customers AS c JOIN books.t AS t ON true"
    )
    # SQLite: the view lives in the attached file and names its tables unqualified.
    assert render_ddl(ddl, "sqlite") == (
        "CREATE VIEW IF NOT EXISTS books.v AS\nSELECT c.x FROM customers AS c JOIN t AS t ON true"
    )
    # Other statements are untouched by the view rule.
    table = "CREATE TABLE IF NOT EXISTS books.x (id {{identity_pk}})"
    assert render_ddl(table, "sqlite") == (
        "CREATE TABLE IF NOT EXISTS books.x (id INTEGER PRIMARY KEY AUTOINCREMENT)"
    )


def customer(
    conn: Any, name: str, *, account: str | None = None, contact: str | None = None
) -> int:
    return int(
        conn.execute(
            text(
                "INSERT INTO books.customers (source, crm_account_id, crm_contact_id,"
                " customer_sub_type, contact_name, status, created_at, updated_at)"
                " VALUES (:s, :a, :c, :t, :n, 'active', :now, :now) RETURNING customer_id"
            ),
            {
                "s": "crm" if (account or contact) else "books",
                "a": account,
                "c": contact,
                "t": "individual" if contact else "business",
                "n": name,
                "now": NOW,
            },
        ).scalar_one()
    )


def document(
    conn: Any, kind: str, number: str, owner: int, status: str, total: str, day: str
) -> None:
    table = "estimates" if kind == "estimate" else "invoices"
    conn.execute(
        text(
            f"INSERT INTO books.{table} ({kind}_number, customer_id, status, total, date,"
            " created_at, updated_at) VALUES (:n, :c, :s, :t, :d, :now, :now)"
        ),
        {"n": number, "c": owner, "s": status, "t": total, "d": day, "now": NOW},
    )


@pytest.fixture
def books(warehouse: Engine) -> dict[str, int]:
    with warehouse.begin() as conn:
        ids = {
            "acme": customer(conn, "Acme Corp", account="5843104000000111001"),
            "acme_dup": customer(conn, "ACME Corporation", account="5843104000000111002"),
            "grace": customer(conn, "Grace Hopper", contact="5843104000000222001"),
            "quiet": customer(conn, "Quiet Ltd", account="5843104000000111003"),
        }
        conn.execute(
            text(
                "INSERT INTO books.contact_persons (customer_id, crm_contact_id, first_name,"
                " is_primary_contact, created_at, updated_at)"
                " VALUES (:c, '5843104000000222002', 'Ada', TRUE, :now, :now)"
            ),
            {"c": ids["acme_dup"], "now": NOW},
        )
        document(conn, "estimate", "EST-000010", ids["acme"], "accepted", "1200.00", "2026-10-01")
        document(conn, "invoice", "INV-000020", ids["acme"], "paid", "1200.00", "2026-10-15")
        document(conn, "invoice", "INV-000021", ids["acme_dup"], "sent", "99.90", "2026-10-20")
        document(conn, "estimate", "EST-000011", ids["grace"], "draft", "5.00", "2026-11-01")
    return ids


def cli(capsys: pytest.CaptureFixture[str], uri: str, *args: str) -> tuple[int, str, str]:
    code = main(["documents", *args, "--warehouse", uri])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_an_accounts_documents(
    warehouse: Engine, warehouse_uri: str, books: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, warehouse_uri, "5843104000000111001")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        f"CRM account 5843104000000111001 -> Books customer {books['acme']} (Acme Corp, active)"
    )
    assert lines[1].split() == ["type", "number", "status", "total", "date"]
    assert [line.split() for line in lines[2:]] == [
        ["estimate", "EST-000010", "accepted", "1200.00", "2026-10-01"],
        ["invoice", "INV-000020", "paid", "1200.00", "2026-10-15"],
    ]


def test_cli_json_for_an_individual_contact(
    warehouse: Engine, warehouse_uri: str, books: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, warehouse_uri, "5843104000000222001", "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["records"][0]["record_type"] == "contact"
    assert payload["documents"] == [
        {
            "document_type": "estimate",
            "document_number": "EST-000011",
            "status": "draft",
            "total": "5.00",
            "date": "2026-11-01",
            "customer_id": books["grace"],
        }
    ]


def test_cli_unknown_id_exits_1_and_a_known_id_without_documents_exits_0(
    warehouse: Engine, warehouse_uri: str, books: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, warehouse_uri, "999")
    assert (code, out) == (1, "")
    assert "CRM id '999' is not known to Books" in err
    code, out, _ = cli(capsys, warehouse_uri, "5843104000000111003")
    assert code == 0 and "no estimates or invoices in Books" in out


def test_warehouse_option_before_the_subcommand_is_honoured(
    warehouse: Engine, warehouse_uri: str, books: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--warehouse", warehouse_uri, "documents", "5843104000000111001"]) == 0
    assert "EST-000010" in capsys.readouterr().out


def test_documents_before_and_after_a_merge(
    warehouse: Engine, warehouse_uri: str, books: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    def numbers(crm_id: str) -> list[str]:
        code, out, _ = cli(capsys, warehouse_uri, crm_id, "--json")
        assert code == 0
        return [d["document_number"] for d in json.loads(out)["documents"]]

    assert numbers("5843104000000111002") == ["INV-000021"]
    assert numbers("5843104000000222002") == ["INV-000021"]  # Ada, a contact person of the dup
    merge(warehouse, MergeRequest(books["acme"], (books["acme_dup"],)), run_id="r1")

    everything = ["EST-000010", "INV-000020", "INV-000021"]
    assert numbers("5843104000000111001") == everything  # the master lists what moved in
    # The merged-away CRM account maps to its master in Books, so it lists the master's documents.
    assert numbers("5843104000000111002") == everything
    assert numbers("5843104000000222002") == everything  # Ada moved to the master too
    code, out, _ = cli(capsys, warehouse_uri, "5843104000000111002")
    assert code == 0
    assert f"(ACME Corporation, inactive), merged into customer {books['acme']}" in out


def test_sqlite_warehouse_file_stays_readable_on_its_own(tmp_path: Path) -> None:
    from crm_books.warehouse.engine import create_warehouse_engine
    from crm_books.warehouse.migrations import migrate

    engine = create_warehouse_engine(f"sqlite:///{tmp_path / 'books.db'}")
    migrate(engine)
    with engine.begin() as conn:
        owner = customer(conn, "Acme Corp", account="5843104000000111001")
        document(conn, "invoice", "INV-000020", owner, "paid", "1200.00", "2026-10-15")
    engine.dispose()
    # No ATTACH: the way a user's sqlite3 shell opens the file.
    with sqlite3.connect(tmp_path / "books.db") as conn:
        rows = conn.execute(
            "SELECT document_number, total FROM crm_account_documents WHERE crm_account_id = ?",
            ("5843104000000111001",),
        ).fetchall()
    assert rows == [("INV-000020", 1200)]
