"""Zoho CRM Deal records (and /deleted entries) as the normalised deal-changes frame."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from crm_books.deals.frames import DEAL_CHANGE_COLUMNS, empty_frame, objects


def deal_changes_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Raw Zoho Deal records (or /deleted entries) -> the normalised deal-changes frame."""
    raw = pd.DataFrame.from_records(list(records))
    if raw.empty:
        return empty_frame(DEAL_CHANGE_COLUMNS)

    def col(name: str) -> pd.Series:
        return raw[name] if name in raw.columns else pd.Series(None, index=raw.index, dtype=object)

    deleted_time = col("deleted_time")
    deleted = deleted_time.notna() | col("$deleted").fillna(False).astype(bool)
    modified = _utc(col("Modified_Time").astype(object))
    modified = modified.fillna(_utc(deleted_time.astype(object)))
    closing = pd.to_datetime(col("Closing_Date"), format="%Y-%m-%d", errors="coerce")
    return pd.DataFrame(
        {
            "crm_deal_id": col("id").astype(str),
            "deal_name": _clean_text(col("Deal_Name")),
            "amount": pd.to_numeric(col("Amount"), errors="coerce").astype("float64"),
            "stage": _clean_text(col("Stage")),
            "crm_account_id": objects(col("Account_Name").map(lookup_id)),
            "crm_contact_id": objects(col("Contact_Name").map(lookup_id)),
            "closing_date": closing.dt.date.astype(object).where(closing.notna(), None),
            "crm_modified_time": modified,
            "deleted": deleted.astype(bool),
        }
    )


def lookup_id(value: Any) -> str | None:
    """The id of a lookup field ({"id": ..., "name": ...}, or a bare id), or None."""
    if isinstance(value, Mapping):
        raw = value.get("id")
        return str(raw) if raw not in (None, "") else None
    if isinstance(value, str | int) and str(value).strip():
        return str(value).strip()
    return None


def _clean_text(series: pd.Series) -> pd.Series:
    text = objects(series.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v))
    return text.where(text != "", None)


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce")
