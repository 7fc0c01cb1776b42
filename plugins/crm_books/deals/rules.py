"""Potential (Deal) workflow rules: deal changes + current documents + setting -> document actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from crm_books.deals.audit import ACTIONS, EVENTS, add_reasons, pick
from crm_books.deals.frames import (
    ACTION_COLUMNS,
    CUSTOMER_COLUMNS,
    DEAL_CHANGE_COLUMNS,
    DEAL_FIELDS,
    DEAL_UPDATE_COLUMNS,
    DOCUMENT_COLUMNS,
    EVENT_COLUMNS,
    KNOWN_DEAL_COLUMNS,
    conform,
    differs,
    empty_frame,
)
from crm_books.deals.stages import (
    DEFAULT_STAGES,
    StageMapping,
    parse_workflow_setting,
)

# The planner's interface: callers read its inputs' contracts and the setting's error here.
__all__ = [
    "Plan",
    "plan_transitions",
    "resolve_customers",
]

# Statuses the workflow sets when a deal is open / won / lost, per document type.
_CREATE_STATUS: dict[str, dict[str, str]] = {
    "estimate": {"open": "draft", "won": "accepted", "lost": "declined"},
    "invoice": {"open": "draft", "won": "draft", "lost": "draft"},
}
_MAX_MERGE_CHAIN = 32


@dataclass(frozen=True)
class Plan:
    """What one run will write: deal rows, document actions and their audit events."""

    deal_updates: pd.DataFrame
    document_actions: pd.DataFrame
    events: pd.DataFrame
    ignored_versions: int = 0
    counts: dict[str, int] = field(default_factory=dict)


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
    changes = _latest_versions(conform(changes, DEAL_CHANGE_COLUMNS))
    changes["crm_modified_time"] = pd.to_datetime(changes["crm_modified_time"], utc=True)
    changes["deleted"] = changes["deleted"].fillna(False).astype(bool)
    known = conform(known_deals, KNOWN_DEAL_COLUMNS).drop_duplicates("crm_deal_id", keep="last")
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
    document_actions = pick(work, ACTION_COLUMNS, ACTIONS)
    events = pick(work, EVENT_COLUMNS, EVENTS)
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


# -- which deals to plan --------------------------------------------------------------------------


def _latest_versions(changes: pd.DataFrame) -> pd.DataFrame:
    # NaT sorts last, so a version without a time (a deletion entry) wins over dated ones.
    ordered = changes.sort_values("crm_modified_time", kind="stable", na_position="last")
    return ordered.drop_duplicates("crm_deal_id", keep="last")


def _content_differs(merged: pd.DataFrame) -> pd.Series:
    """A change whose fields differ from the deal as last seen (amounts compared in cents)."""
    amount = pd.to_numeric(merged["amount"], errors="coerce").round(2)
    prev_amount = pd.to_numeric(merged["prev_amount"], errors="coerce").round(2)
    changed = differs(amount, prev_amount) & ~merged["deleted"].astype(bool)
    for col in DEAL_FIELDS:
        if col == "amount":  # compared in cents above
            continue
        changed |= ~merged["deleted"].astype(bool) & differs(
            merged[col].astype(object), merged[f"prev_{col}"].astype(object)
        )
    return changed | (merged["deleted"].astype(bool) != merged["prev_state"].eq("deleted"))


def _select_candidates(changes: pd.DataFrame, known: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Deals to plan this run: newer versions, plus every pending deal (retried each run)."""
    taken, take = _newer_versions(changes, known)
    frames = [f for f in (taken, _retries(known, taken)) if not f.empty]
    if not frames:
        return taken.iloc[0:0].copy(), len(changes)
    deals = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    deals = deals.reset_index(drop=True)
    deals["deleted"] = deals["deleted"].astype(bool)
    deals["crm_modified_time"] = pd.to_datetime(deals["crm_modified_time"], utc=True)
    # A deletion entry carries no fields: keep what was last seen.
    for col in DEAL_FIELDS:
        keep_prev = deals["deleted"] & deals[col].isna()
        deals[col] = (
            deals[col].astype(object).where(~keep_prev, deals[f"prev_{col}"].astype(object))
        )
    deals["amount"] = pd.to_numeric(deals["amount"], errors="coerce").astype("float64")
    return deals, int(len(changes) - int(take.sum()))


def _newer_versions(changes: pd.DataFrame, known: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Changes newer than the deal as last seen (with its prev_ columns), and the taken mask."""
    prev = known.add_prefix("prev_").rename(columns={"prev_crm_deal_id": "crm_deal_id"})
    merged = changes.merge(prev, on="crm_deal_id", how="left", indicator=True)
    is_new = merged["_merge"] == "left_only"
    t = merged["crm_modified_time"]
    pt = pd.to_datetime(merged["prev_crm_modified_time"], utc=True)
    older = (t < pt).fillna(False)
    newer = is_new | t.isna() | pt.isna() | (t > pt).fillna(False)
    # Modified_Time has one-second resolution: a second edit in the same second still counts.
    newer |= ~older & ~is_new & _content_differs(merged)
    prev_state = merged["prev_state"].astype(object)
    redundant_delete = merged["deleted"].astype(bool) & prev_state.eq("deleted")
    take = (newer | (~older & prev_state.eq("pending"))) & ~redundant_delete
    taken = merged.loc[take].drop(columns="_merge")
    taken["is_new"] = is_new[take].to_numpy()
    return taken, take


def _retries(known: pd.DataFrame, taken: pd.DataFrame) -> pd.DataFrame:
    """Pending deals without a newer version this run, as unchanged versions of themselves."""
    retry_ids = known.loc[known["state"].astype(object).eq("pending"), "crm_deal_id"]
    retry_ids = retry_ids[~retry_ids.isin(taken["crm_deal_id"])]
    retry = known.loc[known["crm_deal_id"].isin(retry_ids)].copy()
    for col in KNOWN_DEAL_COLUMNS[1:]:
        retry[f"prev_{col}"] = retry[col]
    retry["deleted"] = False
    retry["is_new"] = False
    return retry.loc[:, list(taken.columns)]


# -- customers --------------------------------------------------------------------------------------


def resolve_customers(deals: pd.DataFrame, customers: pd.DataFrame) -> pd.Series:
    """Active Books customer per deal: the account's, else the contact's; merges followed."""
    cust = conform(customers, CUSTOMER_COLUMNS)
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


# -- decisions ------------------------------------------------------------------------------------


def _decide(
    deals: pd.DataFrame,
    documents: pd.DataFrame,
    customers: pd.DataFrame,
    workflow: str,
    stages: StageMapping,
    today: date,
) -> pd.DataFrame:
    """One row per candidate deal: what the rules decide (flags) and the values to write."""
    doc_type = workflow if workflow != "off" else None
    w = _with_documents(deals, documents, doc_type, stages, today)
    want_create = _wanted_statuses(w, workflow)
    _document_decisions(w, want_create, customers, stages)
    _deal_state(w)
    add_reasons(w, doc_type)
    w["draft"] = "draft"
    w["null"] = None
    return w


def _with_documents(
    deals: pd.DataFrame,
    documents: pd.DataFrame,
    doc_type: str | None,
    stages: StageMapping,
    today: date,
) -> pd.DataFrame:
    """The deals joined to the current workflow's document of each (doc_ columns), if any, with
    the values a document of the deal would hold."""
    docs = conform(documents, DOCUMENT_COLUMNS)
    docs = docs.loc[docs["document_type"].astype(object).eq(doc_type)]
    docs = docs.drop_duplicates("crm_deal_id").add_prefix("doc_")
    w = deals.merge(docs, left_on="crm_deal_id", right_on="doc_crm_deal_id", how="left")
    category = stages.categories(deals["stage"])
    prev_was_won = deals["prev_was_won"].astype(object).fillna(False).astype(bool)
    w["document_type"] = doc_type
    w["category"] = category
    w["was_won"] = prev_was_won | (~deals["deleted"] & category.eq("won"))
    w["total"] = w["amount"].fillna(0.0).round(2)
    w["line_item"] = w["deal_name"].astype(object)
    w["date"] = w["closing_date"].astype(object).where(w["closing_date"].notna(), today)
    w["has_doc"] = w["doc_document_id"].notna()
    w["active"] = ~deals["deleted"] & (doc_type is not None)
    return w


def _wanted_statuses(w: pd.DataFrame, workflow: str) -> pd.Series:
    """Set the status a new document gets and the one an existing document should have; return
    which deals want a document created."""
    category = w["category"]
    doc_status = w["doc_status"].astype(object)
    if workflow == "estimate":
        w["create_status"] = category.map(_CREATE_STATUS["estimate"])
        w["want_status"] = doc_status.where(category.eq("open"), w["create_status"])
        return w["active"] & ~w["has_doc"]
    if workflow == "invoice":
        w["create_status"] = "draft"
        w["want_status"] = doc_status.where(~category.eq("lost"), "void")
        return w["active"] & ~w["has_doc"] & category.eq("won")
    w["create_status"] = None
    w["want_status"] = doc_status
    return pd.Series(False, index=w.index)


def _document_decisions(
    w: pd.DataFrame, want_create: pd.Series, customers: pd.DataFrame, stages: StageMapping
) -> None:
    """Flags: create (or wait for the customer), update, skip a locked document, leave it."""
    has_doc, active = w["has_doc"], w["active"]
    doc_status = w["doc_status"].astype(object)
    # A person changed the document when its status is no longer the one the workflow set.
    doc_wf_status = w["doc_workflow_status"].astype(object)
    locked = has_doc & (doc_wf_status.isna() | differs(doc_status, doc_wf_status))
    w["customer_id"] = resolve_customers(w, customers)
    w["pending"] = want_create & w["customer_id"].isna()
    w["create"] = want_create & w["customer_id"].notna()
    w["created_final"] = w["create"] & differs(w["create_status"], pd.Series("draft", w.index))
    status_change = has_doc & differs(w["want_status"], doc_status)
    doc_total = pd.to_numeric(w["doc_total"], errors="coerce").astype("float64")
    amount_change = has_doc & (
        ((w["total"] - doc_total.fillna(0.0)).abs() > 0.005)
        | differs(w["line_item"], w["doc_line_item"].astype(object))
    )
    w["update"] = active & ~locked & (status_change | amount_change)
    w["update_status"] = w["update"] & status_change
    w["update_amount"] = w["update"] & amount_change
    w["skip_locked"] = active & locked & (status_change | amount_change)
    prev_category = stages.categories(w["prev_stage"])
    reopened = w["category"].eq("open") & ~prev_category.eq("open") & ~w["is_new"].astype(bool)
    w["leave"] = active & has_doc & ~locked & reopened


def _deal_state(w: pd.DataFrame) -> None:
    """The deal row's state and pending reason, and whether it (and its pending event) is news."""
    w["state"] = "processed"
    w.loc[w["pending"], "state"] = "pending"
    w.loc[w["deleted"], "state"] = "deleted"
    w["pending_reason"] = _pending_reason(w).where(w["pending"], None)
    # A pending deal retried without a CRM change and still waiting for the same reason is no news.
    still_waiting = (
        w["pending"]
        & w["prev_state"].astype(object).eq("pending")
        & ~differs(w["pending_reason"], w["prev_pending_reason"].astype(object))
    )
    w["announce_pending"] = w["pending"] & ~still_waiting
    retried = w["crm_modified_time"].eq(pd.to_datetime(w["prev_crm_modified_time"], utc=True))
    w["write_deal"] = ~(still_waiting & retried.fillna(False))
