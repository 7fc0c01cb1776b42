"""What the workflow's decisions write: document actions and audit events, with their reasons."""

from __future__ import annotations

import pandas as pd

from crm_books.deals.frames import empty_frame, objects


def _quoted(series: pd.Series) -> pd.Series:
    return "'" + series.astype(object).where(series.notna(), "").astype(str) + "'"


def _money(series: pd.Series) -> pd.Series:
    return series.astype("float64").fillna(0.0).map(lambda v: f"{v:.2f}")


def add_reasons(w: pd.DataFrame, doc_type: str | None) -> None:
    """Audit reasons, written for the person reading workflow_events."""
    stage = _quoted(w["stage"])
    doc_status = _quoted(w["doc_status"])
    from_pending = w["prev_state"].astype(object).eq("pending")
    w["create_reason"] = ("new deal in stage " + stage).where(
        ~from_pending, "customer arrived; deal in stage " + stage
    )
    w["status_reason"] = "deal stage " + stage + " is " + w["category"]
    old_total = _money(pd.to_numeric(w["doc_total"], errors="coerce"))
    w["amount_reason"] = (
        "total " + old_total + " -> " + _money(w["total"])
        + "; line item " + _quoted(w["doc_line_item"]) + " -> " + _quoted(w["line_item"])
    )  # fmt: skip
    w["update_reason"] = w["status_reason"].where(w["update_status"], w["amount_reason"])
    wanted = (
        "status " + _quoted(w["want_status"]) + ", total " + _money(w["total"])
        + ", line item " + _quoted(w["line_item"])
    )  # fmt: skip
    w["skip_reason"] = (
        "locked: status " + doc_status + " was set by a person (workflow last set "
        + _quoted(w["doc_workflow_status"]) + "); workflow wanted " + wanted
    )  # fmt: skip
    w["leave_reason"] = (
        "deal back in open stage " + stage + "; " + str(doc_type) + " left as " + doc_status
    )
    w["deleted_reason"] = "deleted in the CRM; its documents are left as they are"


# Output rows per decision: (flag column, action, {output column: work column}); unnamed -> NULL.
_Spec = tuple[str, str, dict[str, str]]
ACTIONS: tuple[_Spec, ...] = (
    ("create", "create", {"customer_id": "customer_id", "to_status": "create_status",
                          "date": "date", "reason": "create_reason"}),
    ("update", "update", {"document_id": "doc_document_id", "customer_id": "doc_customer_id",
                          "from_status": "doc_status", "to_status": "want_status",
                          "reason": "update_reason"}),
    ("skip_locked", "skip_locked", {"document_id": "doc_document_id",
                                    "customer_id": "doc_customer_id", "from_status": "doc_status",
                                    "to_status": "want_status", "reason": "skip_reason"}),
    ("leave", "leave", {"document_id": "doc_document_id", "customer_id": "doc_customer_id",
                        "from_status": "doc_status", "to_status": "doc_status",
                        "reason": "leave_reason"}),
)  # fmt: skip
EVENTS: tuple[_Spec, ...] = (
    ("deleted", "deal_deleted", {"document_type": "null", "reason": "deleted_reason"}),
    ("announce_pending", "pending", {"reason": "pending_reason"}),
    ("create", "create", {"to_status": "draft", "reason": "create_reason"}),
    ("created_final", "update_status", {"from_status": "draft", "to_status": "create_status",
                                        "reason": "status_reason"}),
    ("update_status", "update_status", {"document_id": "doc_document_id",
                                        "from_status": "doc_status", "to_status": "want_status",
                                        "reason": "status_reason"}),
    ("update_amount", "update_amount", {"document_id": "doc_document_id",
                                        "from_status": "doc_status", "to_status": "want_status",
                                        "reason": "amount_reason"}),
    ("skip_locked", "skip_locked", {"document_id": "doc_document_id",
                                    "from_status": "doc_status", "to_status": "want_status",
                                    "reason": "skip_reason"}),
    ("leave", "leave", {"document_id": "doc_document_id", "from_status": "doc_status",
                        "to_status": "doc_status", "reason": "leave_reason"}),
)  # fmt: skip
# Columns every output row takes from the deal itself.
_SHARED = ("crm_deal_id", "document_type", "total", "line_item")


def pick(work: pd.DataFrame, columns: tuple[str, ...], specs: tuple[_Spec, ...]) -> pd.DataFrame:
    """Stack the rows each decision flags into one frame with the given columns, in spec order."""
    parts = []
    for flag, action, sources in specs:
        rows = work.loc[work[flag].astype(bool)]
        if rows.empty:
            continue
        part = pd.DataFrame(index=pd.RangeIndex(len(rows)))
        for col in columns:
            source = sources.get(col, col if col in _SHARED else None)
            if col == "action":
                part[col] = action
            elif source is None:
                part[col] = None
            else:
                part[col] = objects(rows[source]).to_numpy()
        parts.append(part)
    if not parts:
        return empty_frame(columns)
    return pd.concat(parts, ignore_index=True).loc[:, list(columns)]
