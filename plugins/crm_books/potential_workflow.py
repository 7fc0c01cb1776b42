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


def _select_candidates(changes: pd.DataFrame, known: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Deals to plan this run: newer versions, plus every pending deal (retried each run)."""
    prev = known.add_prefix("prev_").rename(columns={"prev_crm_deal_id": "crm_deal_id"})
    merged = changes.merge(prev, on="crm_deal_id", how="left", indicator=True)
    is_new = merged["_merge"] == "left_only"
    t = merged["crm_modified_time"]
    pt = pd.to_datetime(merged["prev_crm_modified_time"], utc=True)
    older = (t < pt).fillna(False)
    newer = is_new | t.isna() | pt.isna() | (t > pt).fillna(False)
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


def _events(deals: pd.DataFrame, mask: pd.Series, action: str, **values: Any) -> pd.DataFrame:
    part = deals.loc[mask]
    frame = pd.DataFrame({"crm_deal_id": part["crm_deal_id"].astype(object)})
    for col in EVENT_COLUMNS[1:]:
        value = values.get(col)
        frame[col] = value[mask] if isinstance(value, pd.Series) else value
    frame["action"] = action
    return frame.loc[:, list(EVENT_COLUMNS)]


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
    """Plan one run of the Potential workflow; pure, vectorised over all deals at once."""
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
    deals = deals.reset_index(drop=True)

    deleted = deals["deleted"]
    live = ~deleted
    category = stages.categories(deals["stage"])
    prev_category = stages.categories(deals["prev_stage"])
    prev_was_won = deals["prev_was_won"].astype(object).fillna(False).astype(bool)
    was_won = prev_was_won | (live & category.eq("won"))
    total = deals["amount"].fillna(0.0).round(2)
    line_item = deals["deal_name"].astype(object)
    stage_text = _quoted(deals["stage"])

    # The current workflow's document for each deal, if any.
    doc_type = workflow if workflow != "off" else None
    docs = _conform(documents, DOCUMENT_COLUMNS)
    docs = docs.loc[docs["document_type"].astype(object).eq(doc_type)]
    docs = docs.drop_duplicates("crm_deal_id").add_prefix("doc_")
    deals = deals.merge(docs, left_on="crm_deal_id", right_on="doc_crm_deal_id", how="left")
    has_doc = deals["doc_document_id"].notna()
    doc_status = deals["doc_status"].astype(object)
    doc_wf_status = deals["doc_workflow_status"].astype(object)
    locked = has_doc & (doc_wf_status.isna() | _differs(doc_status, doc_wf_status))
    active = live & (workflow != "off")

    if workflow == "estimate":
        want_create = active & ~has_doc
        create_status = category.map(_CREATE_STATUS["estimate"])
        want_status = doc_status.where(category.eq("open"), create_status)
    elif workflow == "invoice":
        want_create = active & ~has_doc & category.eq("won")
        create_status = pd.Series("draft", index=deals.index, dtype=object)
        want_status = doc_status.where(~category.eq("lost"), "void")
    else:
        want_create = pd.Series(False, index=deals.index)
        create_status = pd.Series(None, index=deals.index, dtype=object)
        want_status = doc_status

    customer_id = resolve_customers(deals, customers)
    pending = want_create & customer_id.isna()
    create = want_create & customer_id.notna()
    status_change = has_doc & _differs(want_status, doc_status)
    doc_total = pd.to_numeric(deals["doc_total"], errors="coerce").astype("float64")
    total_change = has_doc & ((total - doc_total.fillna(0.0)).abs() > 0.005)
    name_change = has_doc & _differs(line_item, deals["doc_line_item"].astype(object))
    any_change = status_change | total_change | name_change
    update = active & has_doc & ~locked & any_change
    skip = active & locked & any_change
    reopened = category.eq("open") & ~prev_category.eq("open") & ~deals["is_new"].astype(bool)
    leave = active & has_doc & ~locked & reopened

    # Deal rows: every candidate, except pending retries that are still waiting for the same reason.
    reason = _pending_reason(deals)
    state = pd.Series("processed", index=deals.index, dtype=object)
    state[pending] = "pending"
    state[deleted] = "deleted"
    pending_reason = reason.where(pending, None)
    prev_state = deals["prev_state"].astype(object)
    unchanged_wait = (
        pending
        & prev_state.eq("pending")
        & ~_differs(pending_reason, deals["prev_pending_reason"].astype(object))
    )
    retried = deals["crm_modified_time"].eq(
        pd.to_datetime(deals["prev_crm_modified_time"], utc=True)
    )
    deal_updates = deals.loc[:, list(DEAL_UPDATE_COLUMNS[:8])].copy()
    deal_updates["was_won"] = was_won
    deal_updates["state"] = state
    deal_updates["pending_reason"] = pending_reason
    deal_updates = deal_updates.loc[~(unchanged_wait & retried.fillna(False))]

    date_col = deals["closing_date"].astype(object).where(deals["closing_date"].notna(), today)
    doc_id = deals["doc_document_id"]
    from_pending = prev_state.eq("pending")
    create_reason = ("new deal in stage " + stage_text).where(
        ~from_pending, "customer arrived; deal in stage " + stage_text
    )
    status_reason = "deal stage " + stage_text + " is " + category
    amount_reason = (
        "total "
        + _money(doc_total)
        + " -> "
        + _money(total)
        + "; line item "
        + _quoted(deals["doc_line_item"])
        + " -> "
        + _quoted(line_item)
    )
    wanted = (
        "status "
        + _quoted(want_status)
        + ", total "
        + _money(total)
        + ", line item "
        + _quoted(line_item)
    )
    skip_reason = (
        "locked: status "
        + _quoted(doc_status)
        + " was set by a person (workflow last set "
        + _quoted(doc_wf_status)
        + "); workflow wanted "
        + wanted
    )
    leave_reason = (
        "deal back in open stage "
        + stage_text
        + "; "
        + str(doc_type)
        + " left as "
        + _quoted(doc_status)
    )

    actions = [
        _action_frame(
            deals,
            create,
            "create",
            doc_type,
            None,
            customer_id,
            None,
            create_status,
            total,
            line_item,
            date_col,
            create_reason,
        ),
        _action_frame(
            deals,
            update,
            "update",
            doc_type,
            doc_id,
            deals["doc_customer_id"],
            doc_status,
            want_status,
            total,
            line_item,
            None,
            status_reason,
        ),
        _action_frame(
            deals,
            skip,
            "skip_locked",
            doc_type,
            doc_id,
            deals["doc_customer_id"],
            doc_status,
            want_status,
            total,
            line_item,
            None,
            skip_reason,
        ),
        _action_frame(
            deals,
            leave,
            "leave",
            doc_type,
            doc_id,
            deals["doc_customer_id"],
            doc_status,
            doc_status,
            total,
            line_item,
            None,
            leave_reason,
        ),
    ]
    document_actions = pd.concat(
        [a for a in actions if not a.empty] or [actions[0]], ignore_index=True
    )

    final_after_create = create & _differs(create_status, pd.Series("draft", index=deals.index))
    events = [
        _events(
            deals,
            deleted,
            "deal_deleted",
            reason="deleted in the CRM; its documents are left as they are",
        ),
        _events(
            deals,
            pending & ~unchanged_wait,
            "pending",
            document_type=doc_type,
            reason=pending_reason,
        ),
        _events(
            deals, create, "create", document_type=doc_type, to_status="draft", reason=create_reason
        ),
        _events(
            deals,
            final_after_create,
            "update_status",
            document_type=doc_type,
            from_status="draft",
            to_status=create_status,
            reason=status_reason,
        ),
        _events(
            deals,
            update & status_change,
            "update_status",
            document_type=doc_type,
            document_id=doc_id,
            from_status=doc_status,
            to_status=want_status,
            reason=status_reason,
        ),
        _events(
            deals,
            update & (total_change | name_change),
            "update_amount",
            document_type=doc_type,
            document_id=doc_id,
            from_status=doc_status,
            to_status=want_status,
            reason=amount_reason,
        ),
        _events(
            deals,
            skip,
            "skip_locked",
            document_type=doc_type,
            document_id=doc_id,
            from_status=doc_status,
            to_status=want_status,
            reason=skip_reason,
        ),
        _events(
            deals,
            leave,
            "leave",
            document_type=doc_type,
            document_id=doc_id,
            from_status=doc_status,
            to_status=doc_status,
            reason=leave_reason,
        ),
    ]
    event_frame = pd.concat([e for e in events if not e.empty] or [events[0]], ignore_index=True)

    counts = {"ignored_versions": ignored, "deals": len(deal_updates)}
    counts.update(document_actions["action"].value_counts().astype(int).to_dict())
    counts["pending"] = int(pending.sum())
    counts["deleted"] = int(deleted.sum())
    return Plan(
        deal_updates.reset_index(drop=True),
        document_actions,
        event_frame,
        ignored_versions=ignored,
        counts={str(k): int(v) for k, v in counts.items()},
    )


def _action_frame(
    deals: pd.DataFrame,
    mask: pd.Series,
    action: str,
    document_type: str | None,
    document_id: pd.Series | None,
    customer_id: pd.Series,
    from_status: pd.Series | None,
    to_status: pd.Series,
    total: pd.Series,
    line_item: pd.Series,
    date_col: pd.Series | None,
    reason: pd.Series,
) -> pd.DataFrame:
    def pick(value: pd.Series | None) -> Any:
        return value[mask].astype(object).to_numpy() if value is not None else None

    return pd.DataFrame(
        {
            "action": action,
            "document_type": document_type,
            "document_id": pick(document_id),
            "crm_deal_id": pick(deals["crm_deal_id"]),
            "customer_id": pick(customer_id),
            "from_status": pick(from_status),
            "to_status": pick(to_status),
            "total": pick(total),
            "line_item": pick(line_item),
            "date": pick(date_col),
            "reason": pick(reason),
        },
        index=pd.RangeIndex(int(mask.sum())),
        columns=list(ACTION_COLUMNS),
    )
