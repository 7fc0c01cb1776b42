"""Command line of the library: `python -m crm_books migrate` (more subcommands register below)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from crm_books import settings


def _warehouse_uri(explicit: str | None) -> str:
    """--warehouse, else $BOOKS_WAREHOUSE_URI, else the books_warehouse Airflow connection, else the
    embedded SQLite default."""
    if explicit:
        return explicit
    if os.environ.get("BOOKS_WAREHOUSE_URI"):
        return os.environ["BOOKS_WAREHOUSE_URI"]
    if os.environ.get("AIRFLOW_CONN_BOOKS_WAREHOUSE") or os.environ.get("AIRFLOW_HOME"):
        try:
            from crm_books.connections import warehouse_uri

            return warehouse_uri()
        except Exception as exc:  # no Airflow connection: fall back to the embedded default
            logging.getLogger(__name__).debug("no books_warehouse connection: %s", exc)
    return settings.DEFAULT_WAREHOUSE_URI


def _migrate(args: argparse.Namespace) -> int:
    from crm_books.warehouse import create_warehouse_engine, migrate

    engine = create_warehouse_engine(_warehouse_uri(args.warehouse))
    applied = migrate(engine)
    print(
        f"warehouse {engine.url.render_as_string(hide_password=True)}: "
        f"{len(applied)} migration(s) applied" + (f" ({', '.join(applied)})" if applied else "")
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m crm_books", description=__doc__)
    parser.add_argument(
        "--warehouse", help="warehouse URI (default: the books_warehouse connection)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="create or upgrade the Books warehouse schema")
    migrate.set_defaults(func=_migrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
