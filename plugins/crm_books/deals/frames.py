"""Column contracts of the frames the deal workflow passes around, and small frame helpers."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

# Frames crossing the planner boundary (load_state produces the inputs, apply_plan reads the outputs).
# What a deal version says about the deal (a deletion entry says none of it).
DEAL_FIELDS: tuple[str, ...] = (
    "deal_name",
    "amount",
    "stage",
    "crm_account_id",
    "crm_contact_id",
    "closing_date",
)
DEAL_CHANGE_COLUMNS: tuple[str, ...] = ("crm_deal_id", *DEAL_FIELDS, "crm_modified_time", "deleted")
# A known deal is a change as last applied (without the deleted flag) plus what the workflow set.
KNOWN_DEAL_COLUMNS: tuple[str, ...] = (
    *DEAL_CHANGE_COLUMNS[:-1],
    "was_won",
    "state",
    "pending_reason",
)
DEAL_UPDATE_COLUMNS = KNOWN_DEAL_COLUMNS
DOCUMENT_COLUMNS: tuple[str, ...] = (
    "document_type",
    "document_id",
    "crm_deal_id",
    "customer_id",
    "status",
    "workflow_status",
    "total",
    "line_item",
)
CUSTOMER_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "crm_account_id",
    "crm_contact_id",
    "status",
    "merged_into_customer_id",
)
ACTION_COLUMNS: tuple[str, ...] = (
    "action",
    "document_type",
    "document_id",
    "crm_deal_id",
    "customer_id",
    "from_status",
    "to_status",
    "total",
    "line_item",
    "date",
    "reason",
)
EVENT_COLUMNS: tuple[str, ...] = (
    "crm_deal_id",
    "document_type",
    "document_id",
    "action",
    "from_status",
    "to_status",
    "reason",
)


def empty_frame(columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def conform(frame: pd.DataFrame | None, columns: tuple[str, ...]) -> pd.DataFrame:
    """Missing columns become empty, extra ones are dropped; strings stay plain objects."""
    if frame is None:
        return empty_frame(columns)
    out = frame.copy()
    for col in columns:
        if col not in out.columns:
            out[col] = None
    return out.loc[:, list(columns)].reset_index(drop=True)


def objects(series: pd.Series) -> pd.Series:
    """Object Series with None for missing values (pandas 3 would otherwise use NaN)."""
    out = series.astype(object)
    return out.where(out.notna(), None)


def differs(a: pd.Series, b: pd.Series) -> pd.Series:
    """Null-aware inequality of two aligned object Series."""
    both_null = a.isna() & b.isna()
    return (a.astype(object) != b.astype(object)) & ~both_null
