"""Deal versions the warehouse cannot store (a lone surrogate or NUL in a text field, an id too
long for an index): quarantined in books.rejected_records, so the other deals go ahead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from crm_books.deals.changes import lookup_id
from crm_books.json_text import json_text
from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.text import MAX_ID_LENGTH, any_problem, id_problem, quoted, text_problem
from crm_books.warehouse.timestamps import db_timestamp

if TYPE_CHECKING:
    from sqlalchemy import Connection

# The text fields a deal row stores, and the lookups whose ids it stores.
_TEXT_FIELDS = ("Deal_Name", "Stage")
_LOOKUPS = ("Account_Name", "Contact_Name")


@dataclass(frozen=True)
class RejectedDeal:
    """One deal version the warehouse cannot store, as books.rejected_records files it."""

    crm_id: str | None
    crm_modified_time: datetime | None
    reason: str
    raw_payload: str


def split_unstorable(
    page: Sequence[Mapping[str, Any]],
) -> tuple[list[Mapping[str, Any]], list[RejectedDeal]]:
    """A page of Deal records (or /deleted entries) as (the storable ones, the rejected ones)."""
    values = [_stored_values(record) for record in page]
    texts = [text for row in values for _, text, _ in row]
    long_id = any(len(text) > MAX_ID_LENGTH for row in values for _, text, is_id in row if is_id)
    if not long_id and not any_problem(texts):
        return list(page), []  # the usual case: one scan of the page
    kept: list[Mapping[str, Any]] = []
    rejected: list[RejectedDeal] = []
    for record, row in zip(page, values, strict=True):
        problems = [
            f"{label} {problem}"
            for label, text, is_id in row
            if (problem := (id_problem if is_id else text_problem)(text)) is not None
        ]
        if problems:
            rejected.append(_rejected(record, "; ".join(problems)))
        else:
            kept.append(record)
    return kept, rejected


def _stored_values(record: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """(label for a reason, text, is an id) of each text the deal row would store."""
    out: list[tuple[str, str, bool]] = []
    if record.get("id") is not None:
        out.append(("id", str(record["id"]), True))
    out += [(f, v, False) for f in _TEXT_FIELDS if isinstance(v := record.get(f), str)]
    out += [(f"{f} id", i, True) for f in _LOOKUPS if (i := lookup_id(record.get(f))) is not None]
    return out


def _rejected(record: Mapping[str, Any], reason: str) -> RejectedDeal:
    crm_id = None if record.get("id") is None else str(record["id"])
    if crm_id is not None and id_problem(crm_id) is not None:
        crm_id = quoted(crm_id)  # clipped and escaped, so the reject itself can be stored
    time = pd.to_datetime(
        record.get("Modified_Time") or record.get("deleted_time"),
        utc=True,
        format="ISO8601",
        errors="coerce",
    )
    return RejectedDeal(
        crm_id=crm_id,
        crm_modified_time=None if pd.isna(time) else time.to_pydatetime(),
        reason=reason,
        # The record as the CRM sent it, with what UTF-8 cannot carry written as JSON escapes.
        raw_payload=json_text(dict(record)),
    )


def file_rejects(
    conn: Connection, rejects: Sequence[RejectedDeal], *, run_id: str, now: str
) -> int:
    """File the rejects in books.rejected_records; a version filed before keeps its first row."""
    if not rejects:
        return 0
    run_sql(
        conn,
        "workflow/insert_rejected_deals",
        [
            {
                "run_id": run_id,
                "crm_id": r.crm_id,
                "crm_modified_time": db_timestamp(r.crm_modified_time),
                "reason": r.reason,
                "raw_payload": r.raw_payload,
                "now": now,
            }
            for r in rejects
        ],
    )
    return len(rejects)
