"""Command line of the library: `python -m crm_books migrate` and `... documents <crm_id>`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from crm_books import config


def _warehouse_uri(explicit: str | None) -> str:
    """--warehouse, else $BOOKS_WAREHOUSE_URI, else the books_warehouse Airflow connection, else the
    embedded SQLite default."""
    if explicit:
        return explicit
    if os.environ.get("BOOKS_WAREHOUSE_URI"):
        return os.environ["BOOKS_WAREHOUSE_URI"]
    if os.environ.get("AIRFLOW_HOME") or any(k.startswith("AIRFLOW_CONN_") for k in os.environ):
        try:
            from crm_books.warehouse.engine import warehouse_uri

            return warehouse_uri()
        except Exception as exc:  # no Airflow connection: fall back to the embedded default
            logging.getLogger(__name__).warning(
                "could not read the %s connection here (%s); using the embedded SQLite warehouse"
                " %s. To use another warehouse, pass --warehouse or set BOOKS_WAREHOUSE_URI",
                config.WAREHOUSE_CONN_ID,
                exc,
                config.DEFAULT_WAREHOUSE_URI,
            )
    return config.DEFAULT_WAREHOUSE_URI


def _migrate(args: argparse.Namespace) -> int:
    from crm_books.warehouse.engine import create_warehouse_engine, normalize_uri
    from crm_books.warehouse.migrations import migrate

    uri = _warehouse_uri(args.warehouse)
    engine = create_warehouse_engine(uri)
    applied = migrate(engine)
    print(
        f"warehouse {normalize_uri(uri).render_as_string(hide_password=True)}: "
        f"{len(applied)} migration(s) applied" + (f" ({', '.join(applied)})" if applied else "")
    )
    return 0


def _documents(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from crm_books.documents import UnknownCrmRecord, crm_documents, format_json, format_text
    from crm_books.warehouse.engine import create_warehouse_engine

    engine = create_warehouse_engine(_warehouse_uri(args.warehouse))
    try:
        records, documents = crm_documents(engine, args.crm_id)
    except UnknownCrmRecord as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except DBAPIError as exc:
        # Most often a warehouse created before the documents views (migration 0005).
        print(
            f"error: cannot read the documents views ({exc.orig}); "
            "run `python -m crm_books migrate` first",
            file=sys.stderr,
        )
        return 1
    finally:
        engine.dispose()
    print(format_json(records, documents) if args.json else format_text(records, documents))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m crm_books", description=__doc__)
    parser.add_argument(
        "--warehouse", help="warehouse URI (default: the books_warehouse connection)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="create or upgrade the Books warehouse schema")
    migrate.add_argument("--warehouse", default=argparse.SUPPRESS, help="warehouse URI")
    migrate.set_defaults(func=_migrate)
    documents = sub.add_parser(
        "documents",
        help="print the estimates and invoices Books holds for a CRM account or contact id",
    )
    documents.add_argument("crm_id", help="CRM record id of an Account or a Contact")
    # SUPPRESS: without it the subcommand's default would hide a --warehouse given before it.
    documents.add_argument("--warehouse", default=argparse.SUPPRESS, help="warehouse URI")
    documents.add_argument("--json", action="store_true", help="print JSON instead of a table")
    documents.set_defaults(func=_documents)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
