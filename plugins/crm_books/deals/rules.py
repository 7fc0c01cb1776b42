"""Potential (Deal) workflow rules: deal changes + current documents + setting -> document actions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import pandas as pd

WORKFLOWS = ("estimate", "invoice", "off")
Category = Literal["won", "lost", "open"]

# Frames crossing the planner boundary (load_state produces the inputs, apply_plan reads the outputs).
DEAL_CHANGE_COLUMNS: tuple[str, ...] = (
    "crm_deal_id",
    "deal_name",
    "amount",
    "stage",
    "crm_account_id",
    "crm_contact_id",
    "closing_date",
    "crm_modified_time",
    "deleted",
)
KNOWN_DEAL_COLUMNS: tuple[str, ...] = (
    "crm_deal_id",
    "deal_name",
    "amount",
    "stage",
    "crm_account_id",
    "crm_contact_id",
    "closing_date",
    "crm_modified_time",
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

# Statuses the workflow sets when a deal is open / won / lost, per document type.
_CREATE_STATUS: dict[str, dict[str, str]] = {
    "estimate": {"open": "draft", "won": "accepted", "lost": "declined"},
    "invoice": {"open": "draft", "won": "draft", "lost": "draft"},
}
_MAX_MERGE_CHAIN = 32


class WorkflowSettingError(ValueError):
    """The books_potential_workflow setting has a value the workflow does not know."""


def parse_workflow_setting(value: str | None) -> str:
    """Normalise the Variable's value; unknown values fail with the list of valid ones."""
    cleaned = (value or "").strip().lower()
    if cleaned not in WORKFLOWS:
        raise WorkflowSettingError(
            f"books_potential_workflow is {value!r}; set it to one of: {', '.join(WORKFLOWS)}"
        )
    return cleaned


def _norm(stage: str) -> str:
    return " ".join(stage.split()).casefold()


@dataclass(frozen=True)
class StageMapping:
    """Which CRM stages count as won and lost; every other stage is open."""

    won: frozenset[str] = frozenset({"Closed Won"})
    lost: frozenset[str] = frozenset({"Closed Lost", "Closed Lost to Competition"})

    def __post_init__(self) -> None:
        overlap = {_norm(s) for s in self.won} & {_norm(s) for s in self.lost}
        if overlap:
            raise ValueError(f"stages cannot be both won and lost: {sorted(overlap)}")

    def category(self, stage: str | None) -> Category:
        if not isinstance(stage, str):
            return "open"
        key = _norm(stage)
        if key in {_norm(s) for s in self.won}:
            return "won"
        if key in {_norm(s) for s in self.lost}:
            return "lost"
        return "open"

    def categories(self, stages: pd.Series) -> pd.Series:
        """Vectorised ``category`` over a Series of stage names."""
        text = stages.astype(object).where(stages.notna(), "")
        key = text.map(lambda s: _norm(str(s)))
        out = pd.Series("open", index=stages.index, dtype=object)
        out[key.isin({_norm(s) for s in self.lost})] = "lost"
        out[key.isin({_norm(s) for s in self.won})] = "won"
        return out


DEFAULT_STAGES = StageMapping()


@dataclass(frozen=True)
class Plan:
    """What one run will write: deal rows, document actions and their audit events."""

    deal_updates: pd.DataFrame
    document_actions: pd.DataFrame
    events: pd.DataFrame
    ignored_versions: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def empty_frame(columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _conform(frame: pd.DataFrame | None, columns: tuple[str, ...]) -> pd.DataFrame:
    """Missing columns become empty, extra ones are dropped; strings stay plain objects."""
    if frame is None:
        return empty_frame(columns)
    out = frame.copy()
    for col in columns:
        if col not in out.columns:
            out[col] = None
    return out.loc[:, list(columns)].reset_index(drop=True)


def _lookup_id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        raw = value.get("id")
        return str(raw) if raw not in (None, "") else None
    if isinstance(value, str | int) and str(value).strip():
        return str(value).strip()
    return None


def _objects(series: pd.Series) -> pd.Series:
    """Object Series with None for missing values (pandas 3 would otherwise use NaN)."""
    out = series.astype(object)
    return out.where(out.notna(), None)


def _clean_text(series: pd.Series) -> pd.Series:
    text = _objects(series.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v))
    return text.where(text != "", None)


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce")


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
    out = pd.DataFrame(
        {
            "crm_deal_id": col("id").astype(str),
            "deal_name": _clean_text(col("Deal_Name")),
            "amount": pd.to_numeric(col("Amount"), errors="coerce").astype("float64"),
            "stage": _clean_text(col("Stage")),
            "crm_account_id": _objects(col("Account_Name").map(_lookup_id)),
            "crm_contact_id": _objects(col("Contact_Name").map(_lookup_id)),
            "closing_date": closing.dt.date.astype(object).where(closing.notna(), None),
            "crm_modified_time": modified,
            "deleted": deleted.astype(bool),
        }
    )
    return out


def _differs(a: pd.Series, b: pd.Series) -> pd.Series:
    """Null-aware inequality of two aligned object Series."""
    both_null = a.isna() & b.isna()
    return (a.astype(object) != b.astype(object)) & ~both_null


def _quoted(series: pd.Series) -> pd.Series:
    return "'" + series.astype(object).where(series.notna(), "").astype(str) + "'"


def _money(series: pd.Series) -> pd.Series:
    return series.astype("float64").fillna(0.0).map(lambda v: f"{v:.2f}")


def _latest_versions(changes: pd.DataFrame) -> pd.DataFrame:
    # NaT sorts last, so a version without a time (a deletion entry) wins over dated ones.
    ordered = changes.sort_values("crm_modified_time", kind="stable", na_position="last")
    return ordered.drop_duplicates("crm_deal_id", keep="last")


def _content_differs(merged: pd.DataFrame) -> pd.Series:
    """A change whose fields differ from the deal as last seen (amounts compared in cents)."""
    amount = pd.to_numeric(merged["amount"], errors="coerce").round(2)
    prev_amount = pd.to_numeric(merged["prev_amount"], errors="coerce").round(2)
    differs = _differs(amount, prev_amount) & ~merged["deleted"].astype(bool)
    for col in ("deal_name", "stage", "crm_account_id", "crm_contact_id", "closing_date"):
        differs |= ~merged["deleted"].astype(bool) & _differs(
            merged[col].astype(object), merged[f"prev_{col}"].astype(object)
        )
    return differs | (merged["deleted"].astype(bool) != merged["prev_state"].eq("deleted"))


def _select_candidates(changes: pd.DataFrame, known: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Deals to plan this run: newer versions, plus every pending deal (retried each run)."""
    prev = known.add_prefix("prev_").rename(columns={"prev_crm_deal_id": "crm_deal_id"})
    merged = changes.merge(prev, on="crm_deal_id", how="left", indicator=True)
    is_new = merged["_merge"] == "left_only"
    t = merged["crm_modified_time"]
    pt = pd.to_datetime(merged["prev_crm_modified_time"], utc=True)
    older = (t < pt).fillna(False)
    newer = is_new | t.isna() | pt.isna() | (t > pt).fillna(False)
    # Modified_Time has one-second resolution: a second edit in the same second still counts.
    newer |= ~older & ~is_new & _content_differs(merged)
    pending = merged["prev_state"].astype(object).eq("pending")
    redundant_delete = merged["deleted"].astype(bool) & merged["prev_state"].astype(object).eq(
        "deleted"
    )
    take = (newer | (~older & pending)) & ~redundant_delete
    taken = merged.loc[take].drop(columns="_merge")
    taken["is_new"] = is_new[take].to_numpy()

    retry_ids = known.loc[known["state"].astype(object).eq("pending"), "crm_deal_id"]
    retry_ids = retry_ids[~retry_ids.isin(taken["crm_deal_id"])]
    retry = known.loc[known["crm_deal_id"].isin(retry_ids)].copy()
    for col in KNOWN_DEAL_COLUMNS[1:]:
        retry[f"prev_{col}"] = retry[col]
    retry["deleted"] = False
    retry["is_new"] = False
    retry = retry.loc[:, list(taken.columns)]

    frames = [f for f in (taken, retry) if not f.empty]
    if not frames:
        return taken.iloc[0:0].copy(), len(changes)
    deals = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    deals = deals.reset_index(drop=True)
    deals["deleted"] = deals["deleted"].astype(bool)
    deals["crm_modified_time"] = pd.to_datetime(deals["crm_modified_time"], utc=True)
    # A deletion entry carries no fields: keep what was last seen.
    for col in ("deal_name", "amount", "stage", "crm_account_id", "crm_contact_id", "closing_date"):
        keep_prev = deals["deleted"] & deals[col].isna()
        deals[col] = (
            deals[col].astype(object).where(~keep_prev, deals[f"prev_{col}"].astype(object))
        )
    deals["amount"] = pd.to_numeric(deals["amount"], errors="coerce").astype("float64")
    return deals, int(len(changes) - int(take.sum()))


def resolve_customers(deals: pd.DataFrame, customers: pd.DataFrame) -> pd.Series:
    """Active Books customer per deal: the account's, else the contact's; merges followed."""
    cust = _conform(customers, CUSTOMER_COLUMNS)
    ids = pd.to_numeric(cust["customer_id"]).astype("Int64")
    by_account = pd.Series(ids.to_numpy(), index=cust["crm_account_id"].astype(object))
    by_account = by_account[by_account.index.notna()]
    by_contact = pd.Series(ids.to_numpy(), index=cust["crm_contact_id"].astype(object))
    by_contact = by_contact[by_contact.index.notna()]
    account = deals["crm_account_id"].astype(object)
    found = account.map(by_account).astype("Int64")
    no_account = account.isna()
    found[no_account] = deals.loc[no_account, "crm_contact_id"].astype(object).map(by_contact)
    merged_into = pd.Series(
        pd.to_numeric(cust["merged_into_customer_id"]).astype("Int64").to_numpy(), index=ids
    ).dropna()
    for _ in range(_MAX_MERGE_CHAIN):
        nxt = found.map(merged_into).astype("Int64")
        step = nxt.notna() & found.notna()
        if not step.any():
            break
        found[step] = nxt[step]
    active_ids = ids[cust["status"].astype(object).eq("active")].dropna()
    is_active = found.isin(active_ids).fillna(False).astype(bool)
    return found.where(is_active).astype("Int64")


def _pending_reason(deals: pd.DataFrame) -> pd.Series:
    account = deals["crm_account_id"].astype(object)
    contact = deals["crm_contact_id"].astype(object)
    reason = pd.Series("deal has neither an account nor a contact", index=deals.index, dtype=object)
    has_contact = contact.notna()
    reason[has_contact] = "no active Books customer for CRM contact " + contact[has_contact].astype(
        str
    )
    has_account = account.notna()
    reason[has_account] = "no active Books customer for CRM account " + account[has_account].astype(
        str
    )
    return reason


def plan_transitions(
    changes: pd.DataFrame,
    known_deals: pd.DataFrame,
    documents: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    workflow: str,
    stages: StageMapping = DEFAULT_STAGES,
    today: date,
) -> Plan:
    """Plan one run of the Potential workflow; pure, vectorised over all deals at once.

    :param changes: deal versions read from the CRM (``deal_changes_frame``), any order.
    :param known_deals: ``books.deals`` rows for those deals plus every pending deal.
    :param documents: estimates and invoices of those deals (``DOCUMENT_COLUMNS``).
    :param customers: customer keys (``CUSTOMER_COLUMNS``) to find each deal's customer.
    :param workflow: the ``books_potential_workflow`` setting: estimate, invoice or off.
    :param stages: which stages count as won and lost.
    :param today: the run's logical date, the document date when a deal has no closing date.
    """
    workflow = parse_workflow_setting(workflow)
    changes = _latest_versions(_conform(changes, DEAL_CHANGE_COLUMNS))
    changes["crm_modified_time"] = pd.to_datetime(changes["crm_modified_time"], utc=True)
    changes["deleted"] = changes["deleted"].fillna(False).astype(bool)
    known = _conform(known_deals, KNOWN_DEAL_COLUMNS).drop_duplicates("crm_deal_id", keep="last")
    deals, ignored = _select_candidates(changes, known)
    if deals.empty:
        return Plan(
            empty_frame(DEAL_UPDATE_COLUMNS),
            empty_frame(ACTION_COLUMNS),
            empty_frame(EVENT_COLUMNS),
            ignored_versions=ignored,
            counts={"ignored_versions": ignored},
        )
    deals = deals.sort_values(["crm_modified_time", "crm_deal_id"], na_position="last")
    work = _decide(deals.reset_index(drop=True), documents, customers, workflow, stages, today)

    deal_updates = work.loc[work["write_deal"], list(DEAL_UPDATE_COLUMNS)]
    document_actions = _pick(work, ACTION_COLUMNS, _ACTIONS)
    events = _pick(work, EVENT_COLUMNS, _EVENTS)
    counts = {"ignored_versions": ignored, "deals": len(deal_updates)}
    counts.update(document_actions["action"].value_counts().to_dict())
    counts["pending"] = int(work["pending"].sum())
    counts["deleted"] = int(work["deleted"].sum())
    return Plan(
        deal_updates.reset_index(drop=True),
        document_actions,
        events,
        ignored_versions=ignored,
        counts={str(k): int(v) for k, v in counts.items()},
    )


def _decide(
    deals: pd.DataFrame,
    documents: pd.DataFrame,
    customers: pd.DataFrame,
    workflow: str,
    stages: StageMapping,
    today: date,
) -> pd.DataFrame:
    """One row per candidate deal: what the rules decide (flags) and the values to write."""
    deleted = deals["deleted"]
    category = stages.categories(deals["stage"])
    prev_category = stages.categories(deals["prev_stage"])
    prev_was_won = deals["prev_was_won"].astype(object).fillna(False).astype(bool)

    # The current workflow's document of each deal, if any.
    doc_type = workflow if workflow != "off" else None
    docs = _conform(documents, DOCUMENT_COLUMNS)
    docs = docs.loc[docs["document_type"].astype(object).eq(doc_type)]
    docs = docs.drop_duplicates("crm_deal_id").add_prefix("doc_")
    w = deals.merge(docs, left_on="crm_deal_id", right_on="doc_crm_deal_id", how="left")
    w["document_type"] = doc_type
    w["category"] = category
    w["was_won"] = prev_was_won | (~deleted & category.eq("won"))
    w["total"] = w["amount"].fillna(0.0).round(2)
    w["line_item"] = w["deal_name"].astype(object)
    w["date"] = w["closing_date"].astype(object).where(w["closing_date"].notna(), today)
    has_doc = w["doc_document_id"].notna()
    doc_status = w["doc_status"].astype(object)
    doc_wf_status = w["doc_workflow_status"].astype(object)
    # A person changed the document when its status is no longer the one the workflow set.
    locked = has_doc & (doc_wf_status.isna() | _differs(doc_status, doc_wf_status))
    active = ~deleted & (workflow != "off")

    if workflow == "estimate":
        want_create = active & ~has_doc
        w["create_status"] = category.map(_CREATE_STATUS["estimate"])
        w["want_status"] = doc_status.where(category.eq("open"), w["create_status"])
    elif workflow == "invoice":
        want_create = active & ~has_doc & category.eq("won")
        w["create_status"] = "draft"
        w["want_status"] = doc_status.where(~category.eq("lost"), "void")
    else:
        want_create = pd.Series(False, index=w.index)
        w["create_status"] = None
        w["want_status"] = doc_status

    w["customer_id"] = resolve_customers(w, customers)
    w["pending"] = want_create & w["customer_id"].isna()
    w["create"] = want_create & w["customer_id"].notna()
    w["created_final"] = w["create"] & _differs(w["create_status"], pd.Series("draft", w.index))
    status_change = has_doc & _differs(w["want_status"], doc_status)
    doc_total = pd.to_numeric(w["doc_total"], errors="coerce").astype("float64")
    amount_change = has_doc & (
        ((w["total"] - doc_total.fillna(0.0)).abs() > 0.005)
        | _differs(w["line_item"], w["doc_line_item"].astype(object))
    )
    w["update"] = active & ~locked & (status_change | amount_change)
    w["update_status"] = w["update"] & status_change
    w["update_amount"] = w["update"] & amount_change
    w["skip_locked"] = active & locked & (status_change | amount_change)
    reopened = category.eq("open") & ~prev_category.eq("open") & ~w["is_new"].astype(bool)
    w["leave"] = active & has_doc & ~locked & reopened

    w["state"] = "processed"
    w.loc[w["pending"], "state"] = "pending"
    w.loc[deleted, "state"] = "deleted"
    w["pending_reason"] = _pending_reason(w).where(w["pending"], None)
    # A pending deal retried without a CRM change and still waiting for the same reason is no news.
    still_waiting = (
        w["pending"]
        & w["prev_state"].astype(object).eq("pending")
        & ~_differs(w["pending_reason"], w["prev_pending_reason"].astype(object))
    )
    w["announce_pending"] = w["pending"] & ~still_waiting
    retried = w["crm_modified_time"].eq(pd.to_datetime(w["prev_crm_modified_time"], utc=True))
    w["write_deal"] = ~(still_waiting & retried.fillna(False))
    _add_reasons(w, doc_type)
    w["draft"] = "draft"
    w["null"] = None
    return w


def _add_reasons(w: pd.DataFrame, doc_type: str | None) -> None:
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
_ACTIONS: tuple[_Spec, ...] = (
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
_EVENTS: tuple[_Spec, ...] = (
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


def _pick(work: pd.DataFrame, columns: tuple[str, ...], specs: tuple[_Spec, ...]) -> pd.DataFrame:
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
                part[col] = _objects(rows[source]).to_numpy()
        parts.append(part)
    if not parts:
        return empty_frame(columns)
    return pd.concat(parts, ignore_index=True).loc[:, list(columns)]
