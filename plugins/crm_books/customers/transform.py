"""Map one chunk of this run's newest CRM record versions into staged customers and contact persons."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from crm_books import config
from crm_books.customers.columns import RAW_PAYLOAD
from crm_books.customers.plan import SyncRun
from crm_books.customers.staging import (
    STG_CONTACT_PERSON_COLUMNS,
    STG_CUSTOMER_COLUMNS,
    TRANSFORM_CHUNK,
    Chunk,
    chunk_params,
    list_chunks,
    log_chunk,
    raw_pieces,
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
    try:
        with closing(raw_pieces(engine, run, chunk)) as pieces:
            mapped = _mapped(pieces, chunk["module"])
    except _RepeatedIds:
        with closing(raw_pieces(engine, run, chunk)) as pieces:
            whole = [payload for piece in pieces for payload in piece]
        mapped = _mapped([whole], chunk["module"], whole=True)
    counts = {"rows": mapped.rows, "customers": 0, "contact_persons": 0, "rejected": 0}
    with engine.begin() as conn:
        run_sql(conn, "sync/delete_transformed_chunk", chunk_params(run, chunk))
        counts["customers"] = stage_frame(
            conn,
            "stg_customers",
            mapped.customers,
            STG_CUSTOMER_COLUMNS,
            run.run_id,
            module=chunk["module"],
        )
        counts["contact_persons"] = stage_frame(
            conn, "stg_contact_persons", mapped.persons, STG_CONTACT_PERSON_COLUMNS, run.run_id
        )
        counts["rejected"] = stage_rejects(conn, mapped.rejects, run.run_id, "transform")
    log_chunk("transform", chunk, counts["rows"], started)
    return counts


@dataclass(frozen=True)
class _Mapped:
    """A chunk's staged rows to be: customers, contact persons (Contacts only), rejects."""

    rows: int
    customers: pd.DataFrame
    persons: pd.DataFrame | None
    rejects: list[pd.DataFrame]


class _RepeatedIds(Exception):
    """A record id came twice in one chunk (the chunk query returns each crm_id once, so only a
    payload whose id differs from its crm_id can): the chunk is mapped whole instead."""


def _mapped(pieces: Iterable[list[str]], module: str, *, whole: bool = False) -> _Mapped:
    """Decode and map a chunk's payloads piece by piece: only one piece's JSON texts and decoded
    fields are alive at a time, and only the mapped rows (no raw JSON) are kept for the newest
    version per customer, taken over the whole chunk as one frame would give it.

    ``whole``: the pieces are one list of every payload, mapped as one frame, versions of a
    record id included (the one-frame path, for the chunk _RepeatedIds refuses)."""
    from crm_books.customers import mapping as ct

    rows: list[pd.DataFrame] = []
    parse_rejects: list[pd.DataFrame] = []
    map_rejects: list[pd.DataFrame] = []
    seen: set[Any] = set()
    total = 0
    for payloads in pieces:
        total += len(payloads)
        mapped, rejects = _map_piece(payloads, module, None if whole else seen)
        rows.append(mapped)
        parse_rejects.append(rejects[0])
        map_rejects.append(rejects[1])
        del payloads, mapped, rejects
    if not rows:  # an empty chunk: the empty frames of no records
        return _mapped([[]], module)
    accounts = module == config.ACCOUNTS
    key = "crm_account_id" if accounts else "crm_contact_id"
    latest = ct.latest_versions(_concat(rows), key, "crm_modified_time")
    if accounts:
        return _Mapped(total, latest, None, [*parse_rejects, *map_rejects])
    customers, persons = ct.split_contacts(latest)
    return _Mapped(total, customers, persons, [*parse_rejects, *map_rejects])


def _map_piece(
    payloads: list[str], module: str, seen: set[Any] | None
) -> tuple[pd.DataFrame, tuple[pd.DataFrame, pd.DataFrame]]:
    """(mapped rows without their raw JSON, (parse rejects, mapping rejects)) of some payloads;
    ``seen``: the record ids of the chunk's pieces so far (None: keep only the newest version of
    each record id first, as one frame of the whole chunk needs)."""
    from crm_books.customers import mapping as ct
    from crm_books.customers.payloads import parse_payloads

    parsed = parse_payloads(payloads, module=module, fields=ct.MAPPED_FIELDS[module])
    records = parsed.records
    if seen is None:
        records = ct.latest_versions(records, "id", "Modified_Time")
    else:
        _check_ids(records["id"].tolist(), seen)
    rows, rejects = (ct.account_rows if module == config.ACCOUNTS else ct.contact_rows)(records)
    # A deep copy: the frame left by drop() alone still shares the block that holds the JSON.
    return rows.drop(columns=RAW_PAYLOAD).copy(), (parsed.rejects, rejects)


def _check_ids(ids: list[Any], seen: set[Any]) -> None:
    """Note a piece's record ids; raise _RepeatedIds when one was seen before in the chunk."""
    before = len(seen)
    seen.update(ids)
    if len(seen) - before < len(ids):
        raise _RepeatedIds


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    return pd.concat(frames, ignore_index=True)


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
