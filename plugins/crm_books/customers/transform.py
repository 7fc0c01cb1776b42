"""Map one chunk of this run's newest CRM record versions into staged customers and contact persons."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from crm_books import config
from crm_books.customers.plan import SyncRun
from crm_books.customers.staging import (
    STG_CONTACT_PERSON_COLUMNS,
    STG_CUSTOMER_COLUMNS,
    TRANSFORM_CHUNK,
    Chunk,
    chunk_params,
    list_chunks,
    log_chunk,
    raw_chunk,
    stage_frame,
    stage_rejects,
    sum_counts,
)
from crm_books.warehouse.sql_files import run_sql

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

TRANSFORM_COUNTS = ("customers", "contact_persons", "rejected")


def transform_chunk(engine: Engine, run: SyncRun, chunk: Chunk) -> dict[str, int]:
    """Map and clean one chunk's newest record versions and stage the result in one transaction,
    replacing what an earlier attempt of the same chunk staged (a retry stages it once)."""
    started = time.monotonic()
    payloads = raw_chunk(engine, run, chunk)
    customers, persons, rejects = _mapped(payloads, chunk["module"])
    counts = {"rows": len(payloads), "customers": 0, "contact_persons": 0, "rejected": 0}
    with engine.begin() as conn:
        run_sql(conn, "sync/delete_transformed_chunk", chunk_params(run, chunk))
        counts["customers"] = stage_frame(
            conn,
            "stg_customers",
            customers,
            STG_CUSTOMER_COLUMNS,
            run.run_id,
            module=chunk["module"],
        )
        counts["contact_persons"] = stage_frame(
            conn, "stg_contact_persons", persons, STG_CONTACT_PERSON_COLUMNS, run.run_id
        )
        counts["rejected"] = stage_rejects(conn, rejects, run.run_id, "transform")
    log_chunk("transform", chunk, counts["rows"], started)
    return counts


def _mapped(
    payloads: list[str], module: str
) -> tuple[pd.DataFrame, pd.DataFrame | None, list[pd.DataFrame]]:
    """(customers, contact persons or None, reject frames) of a module's raw payloads."""
    from crm_books.customers import mapping as ct
    from crm_books.customers.payloads import parse_payloads

    parsed = parse_payloads(payloads, module=module)
    records = ct.latest_versions(parsed.records, "id", "Modified_Time")
    if module == config.ACCOUNTS:
        accounts = ct.transform_accounts(records)
        return accounts.customers, None, [parsed.rejects, accounts.rejects]
    contacts = ct.transform_contacts(records)
    return contacts.customers, contacts.contact_persons, [parsed.rejects, contacts.rejects]


def transformed(results: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The transform's totals over every chunk of the run."""
    counts, _errors = sum_counts(results)
    log.info(
        "transformed %s records: %d customers, %d contact persons staged; %d records could not "
        "be mapped",
        f"{counts['rows']:,}",
        counts["customers"],
        counts["contact_persons"],
        counts["rejected"],
    )
    return {key: counts[key] for key in TRANSFORM_COUNTS}


def transform_run(
    engine: Engine, run: SyncRun, *, chunk_size: int = TRANSFORM_CHUNK
) -> dict[str, int]:
    """Every chunk of the run, one after another in this process (tests and tools; the DAG maps
    ``transform_chunk`` over the chunks instead)."""
    chunks = list_chunks(engine, run, chunk_size)
    return transformed(transform_chunk(engine, run, chunk) for chunk in chunks)
