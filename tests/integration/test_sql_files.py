"""Every SQL file under include/sql is run by some code, every name the code runs is a file, and
run_sql's contract holds on both backends: counts before writes, RETURNING counts, expanding lists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from crm_books import config
from crm_books.warehouse.sql_files import count_returned, run_sql, with_names

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("plugins", "devtools", "zoho_sandbox", "dags")
AREAS = sorted(p.name for p in config.SQL_DIR.iterdir() if p.is_dir() and p.name != "migrations")
_NAME = re.compile(rf"^(?:{'|'.join(AREAS)})/[\w*]+$")


def _names_in_code() -> set[str]:
    """Every "area/name" string in the code; an f-string's fields become ``*`` wildcards."""
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            # An f-string's literal parts are Constants too: they are only read as its pieces.
            parts = {
                id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values
            }
            for node in ast.walk(tree):
                if id(node) in parts:
                    continue
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    candidate = node.value
                elif isinstance(node, ast.JoinedStr):
                    candidate = "".join(
                        v.value if isinstance(v, ast.Constant) else "*" for v in node.values
                    )
                else:
                    continue
                if _NAME.match(candidate):
                    names.add(candidate)
    return names


def _sql_files() -> set[str]:
    """Every statement file as run_sql names it: area/name, without the .<dialect> variant."""
    return {
        re.sub(r"(\.postgresql|\.sqlite)?\.sql$", "", str(p.relative_to(config.SQL_DIR)))
        for area in AREAS
        for p in (config.SQL_DIR / area).glob("*.sql")
    }


def test_every_sql_file_is_run_by_some_code() -> None:
    patterns = [re.compile(re.escape(n).replace(r"\*", r"\w+") + "$") for n in _names_in_code()]
    unused = sorted(f for f in _sql_files() if not any(p.match(f) for p in patterns))
    assert unused == []


def test_every_name_the_code_runs_is_a_file() -> None:
    files = _sql_files()
    missing = sorted(
        n
        for n in _names_in_code()
        if not any(re.fullmatch(re.escape(n).replace(r"\*", r"\w+"), f) for f in files)
    )
    assert missing == []


def test_a_dialect_variant_always_has_its_portable_file() -> None:
    variants = sorted(config.SQL_DIR.glob("*/*.postgresql.sql"))
    assert variants, "the lock and ANALYZE files have PostgreSQL variants"
    assert [
        v for v in variants if not v.with_name(v.name.replace(".postgresql", "")).is_file()
    ] == []


def test_writes_count_themselves_and_lists_expand(warehouse: Engine) -> None:
    """apply_crm_deletions counts what it changed; select_deals takes a Python list on both backends."""
    now = "2024-01-01 00:00:00.000000+00:00"
    with warehouse.begin() as conn:
        for crm_id in ("A1", "A2", "A3"):
            conn.execute(
                text(
                    "INSERT INTO books.customers (source, crm_account_id, customer_sub_type,"
                    " contact_name, status, created_at, updated_at)"
                    " VALUES ('crm', :id, 'business', :id, 'active', :now, :now)"
                ),
                {"id": crm_id, "now": now},
            )
        conn.execute(
            text(
                "INSERT INTO books.crm_deletions (module, crm_id, deleted_time, applied_run_id)"
                " VALUES ('Accounts', 'A1', :now, 'r'), ('Accounts', 'A2', :now, 'r')"
            ),
            {"now": now},
        )
        counts = count_returned(conn, "sync/apply_crm_deletions", {"run_id": "r", "now": now})
        left = conn.execute(text("SELECT crm_account_id FROM books.customers")).scalars().all()
        deals = run_sql(conn, "workflow/select_deals", {"deal_ids": ["D1", "D2"]}).all()
    assert counts == {"Accounts:deleted": 2}  # labelled with the module the records came from
    assert left == ["A3"]
    assert deals == []


def test_one_file_serves_several_tables_through_names_never_values() -> None:
    script = "UPDATE {{documents}} SET status = :status WHERE {{document_id}} = :id"
    names = {"documents": "books.invoices", "document_id": "invoice_id"}
    assert with_names(script, names) == (
        "UPDATE books.invoices SET status = :status WHERE invoice_id = :id"
    )
    with pytest.raises(ValueError, match="is not a table or column name"):
        with_names(script, {**names, "documents": "books.invoices; DROP TABLE books.customers"})
    with pytest.raises(KeyError, match="document_id"):
        with_names(script, {"documents": "books.invoices"})
    assert with_names("SELECT 1", {}) == "SELECT 1"
