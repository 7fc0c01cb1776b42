"""Map this run's newest CRM record versions into staged customers and contact persons."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from crm_books import config
from crm_books.warehouse.sql_files import run_sql

if TYPE_CHECKING:
    pass
from crm_books.customers.plan import SyncRun
from crm_books.customers.staging import (
    STG_CONTACT_PERSON_COLUMNS,
    STG_CUSTOMER_COLUMNS,
    STG_REJECT_COLUMNS,
    TRANSFORM_CHUNK,
    add_up,
    chunk_starts,
    raw_chunk,
    stage_frame,
)

log = logging.getLogger(__name__)


def transform_run(
    engine: Engine, run: SyncRun, *, chunk_size: int = TRANSFORM_CHUNK
) -> dict[str, int]:
    """Map and clean this run's newest record versions into staged customers and contact persons."""
    with engine.begin() as conn:
        run_sql(conn, "sync/delete_transformed_staging", {"run_id": run.run_id})
    jobs = [
        (run, module, after, chunk_size)
        for module in run.modules
        for after in chunk_starts(engine, "sync/select_raw_chunk_starts", run, module, chunk_size)
    ]
    counts, _errors = add_up(engine, run, "transform", transform_chunk, jobs)
    log.info(
        "transformed: %d customers, %d contact persons staged; %d records could not be mapped",
        counts["customers"],
        counts["contact_persons"],
        counts["rejected"],
    )
    return {key: counts[key] for key in ("customers", "contact_persons", "rejected")}


def transform_chunk(
    engine: Engine, run: SyncRun, module: str, after: str, chunk_size: int
) -> dict[str, int]:
    """Transform one keyset chunk of a module's raw records and stage the result (one transaction)."""
    from crm_books.customers import mapping as ct

    payloads = raw_chunk(engine, run.run_id, module, after, chunk_size)
    parsed = ct.parse_payloads(payloads, module=module)
    records = ct.latest_versions(parsed.records, "id", "Modified_Time")
    rejects = [parsed.rejects]
    customers = persons = None
    if module == config.ACCOUNTS:
        accounts = ct.transform_accounts(records)
        customers, rejects = accounts.customers, [*rejects, accounts.rejects]
    else:
        contacts = ct.transform_contacts(records)
        customers, persons = contacts.customers, contacts.contact_persons
        rejects = [*rejects, contacts.rejects]
    counts = {"rows": len(payloads), "customers": 0, "contact_persons": 0, "rejected": 0}
    with engine.begin() as conn:
        counts["customers"] = stage_frame(
            conn, "stg_customers", customers, STG_CUSTOMER_COLUMNS, run.run_id, module=module
        )
        if persons is not None:
            counts["contact_persons"] = stage_frame(
                conn, "stg_contact_persons", persons, STG_CONTACT_PERSON_COLUMNS, run.run_id
            )
        for frame in rejects:
            counts["rejected"] += stage_frame(
                conn, "stg_rejects", frame, STG_REJECT_COLUMNS, run.run_id, stage="transform"
            )
    return counts
