"""Potential workflow rules (DESIGN.md B8): what the planner decides for estimates and invoices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_books.deals.changes import deal_changes_frame
from crm_books.deals.frames import (
    ACTION_COLUMNS,
    CUSTOMER_COLUMNS,
    DOCUMENT_COLUMNS,
    EVENT_COLUMNS,
    KNOWN_DEAL_COLUMNS,
)
from crm_books.deals.rules import Plan, plan_transitions
from crm_books.deals.stages import (
    WORKFLOWS,
    StageMapping,
    WorkflowSettingError,
    parse_workflow_setting,
)

TODAY = date(2026, 3, 1)
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def deal(
    deal_id: str = "D1",
    *,
    stage: str = "Qualification",
    amount: float | None = 100.0,
    name: str | None = "Big deal",
    account: str | None = "A1",
    contact: str | None = None,
    minutes: int = 0,
    closing: str | None = None,
    deleted: bool = False,
) -> dict[str, Any]:
    return {
        "crm_deal_id": deal_id,
        "deal_name": name,
        "amount": amount,
        "stage": stage,
        "crm_account_id": account,
        "crm_contact_id": contact,
        "closing_date": date.fromisoformat(closing) if closing else None,
        "crm_modified_time": T0 + timedelta(minutes=minutes),
        "deleted": deleted,
    }


@dataclass
class Books:
    """In-memory stand-in for the warehouse: applies plans the way potential_store does."""

    customers: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "customer_id": 1,
                "crm_account_id": "A1",
                "crm_contact_id": None,
                "status": "active",
                "merged_into_customer_id": None,
            }
        ]
    )
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)
    docs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=lambda: {"estimate": 0, "invoice": 0})
    events: list[dict[str, Any]] = field(default_factory=list)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        known = pd.DataFrame(list(self.deals.values()), columns=list(KNOWN_DEAL_COLUMNS))
        docs = pd.DataFrame(list(self.docs.values()), columns=list(DOCUMENT_COLUMNS))
        customers = pd.DataFrame(self.customers, columns=list(CUSTOMER_COLUMNS))
        return known, docs, customers

    def run(
        self,
        *changes: dict[str, Any],
        workflow: str = "estimate",
        stages: StageMapping | None = None,
    ) -> Plan:
        frame = pd.DataFrame(list(changes), columns=list(deal(None).keys()))  # type: ignore[arg-type]
        plan = plan_transitions(
            frame,
            *self.frames(),
            workflow=workflow,
            stages=stages or StageMapping(),
            today=TODAY,
        )
        self.apply(plan)
        return plan

    def apply(self, plan: Plan) -> None:
        for row in plan.deal_updates.to_dict("records"):
            self.deals[row["crm_deal_id"]] = row
        for row in plan.document_actions.to_dict("records"):
            key = (row["document_type"], row["crm_deal_id"])
            if row["action"] == "create":
                assert key not in self.docs, f"second {key[0]} for deal {key[1]}"
                self.numbers[key[0]] += 1
                self.docs[key] = {
                    "document_type": key[0],
                    "document_id": len(self.docs) + 1,
                    "crm_deal_id": key[1],
                    "customer_id": row["customer_id"],
                    "status": row["to_status"],
                    "workflow_status": row["to_status"],
                    "total": row["total"],
                    "line_item": row["line_item"],
                    "date": row["date"],
                }
            elif row["action"] == "update":
                doc = self.docs[key]
                assert doc["status"] == doc["workflow_status"], "a locked document was updated"
                doc.update(
                    status=row["to_status"],
                    workflow_status=row["to_status"],
                    total=row["total"],
                    line_item=row["line_item"],
                )
        self.events.extend(plan.events.to_dict("records"))

    def doc(self, doc_type: str, deal_id: str = "D1") -> dict[str, Any]:
        return self.docs[(doc_type, deal_id)]

    def set_status(self, doc_type: str, status: str, deal_id: str = "D1") -> None:
        """A person changes the document in Books."""
        self.docs[(doc_type, deal_id)]["status"] = status


def actions(plan: Plan) -> list[str]:
    return plan.document_actions["action"].tolist()


def event_actions(plan: Plan) -> list[str]:
    return plan.events["action"].tolist()


# --- setting and stage mapping ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["estimate", " Invoice ", "OFF"])
def test_setting_accepts_the_three_values_loosely(value: str) -> None:
    assert parse_workflow_setting(value) in WORKFLOWS


@pytest.mark.parametrize("value", ["estimates", "", None, "on"])
def test_unknown_setting_fails_naming_the_valid_values(value: str | None) -> None:
    with pytest.raises(WorkflowSettingError, match="estimate, invoice, off"):
        parse_workflow_setting(value)
    with pytest.raises(ValueError, match="books_potential_workflow"):
        Books().run(deal(), workflow=value)  # type: ignore[arg-type]


def test_default_stage_categories_ignore_case_and_spaces() -> None:
    stages = StageMapping()
    assert stages.category("Closed Won") == "won"
    assert stages.category("  closed  WON ") == "won"
    assert stages.category("closed lost to competition") == "lost"
    assert stages.category("Closed Lost") == "lost"
    assert stages.category("Negotiation/Review") == "open"
    assert stages.category(None) == "open"
    series = pd.Series(["CLOSED WON", None, "Closed Lost ", "Proposal"])
    assert stages.categories(series).tolist() == ["won", "open", "lost", "open"]


def test_custom_stage_mapping_drives_the_workflow() -> None:
    stages = StageMapping(won=frozenset({"Signed"}), lost=frozenset({"Dropped"}))
    books = Books()
    books.run(deal(stage="Closed Won"), stages=stages)
    assert books.doc("estimate")["status"] == "draft"
    books.run(deal(stage="signed", minutes=1), stages=stages)
    assert books.doc("estimate")["status"] == "accepted"


def test_a_stage_cannot_be_both_won_and_lost() -> None:
    with pytest.raises(ValueError, match="both won and lost"):
        StageMapping(won=frozenset({"Done"}), lost=frozenset({" done"}))


# --- normalising CRM records -----------------------------------------------------------------


def test_deal_records_are_normalised() -> None:
    frame = deal_changes_frame(
        [
            {
                "id": "1001",
                "Deal_Name": "  Big  ",
                "Amount": 1250.5,
                "Stage": "Closed Won ",
                "Account_Name": {"name": "Acme", "id": "A1"},
                "Contact_Name": None,
                "Closing_Date": "2026-04-30",
                "Modified_Time": "2026-01-01T10:00:00+05:30",
            },
            {
                "id": "1002",
                "Deal_Name": "",
                "Amount": None,
                "Stage": "Qualification",
                "Account_Name": None,
                "Contact_Name": {"name": "Jo", "id": "C7"},
                "Closing_Date": None,
                "Modified_Time": "2026-01-02T00:00:00Z",
            },
            {"id": "1003", "deleted_time": "2026-01-03T08:00:00-01:00", "type": "recycle"},
        ]
    )
    rows = frame.set_index("crm_deal_id").to_dict("index")
    assert rows["1001"]["deal_name"] == "Big"
    assert rows["1001"]["stage"] == "Closed Won"
    assert rows["1001"]["crm_account_id"] == "A1"
    assert rows["1001"]["closing_date"] == date(2026, 4, 30)
    assert rows["1001"]["crm_modified_time"] == pd.Timestamp("2026-01-01T04:30:00Z")
    assert rows["1002"]["deal_name"] is None
    assert pd.isna(rows["1002"]["amount"])
    assert rows["1002"]["crm_account_id"] is None
    assert rows["1002"]["crm_contact_id"] == "C7"
    assert rows["1003"]["deleted"]
    assert not rows["1001"]["deleted"]
    assert rows["1003"]["crm_modified_time"] == pd.Timestamp("2026-01-03T09:00:00Z")


def test_no_records_give_an_empty_frame_with_the_columns() -> None:
    frame = deal_changes_frame([])
    assert frame.empty
    assert "crm_modified_time" in frame.columns


# --- estimate workflow -----------------------------------------------------------------------


def test_new_deal_gets_a_draft_estimate_for_its_account_customer() -> None:
    books = Books()
    plan = books.run(deal(amount=1250.5, name="Big deal"))
    assert actions(plan) == ["create"]
    est = books.doc("estimate")
    assert (est["status"], est["customer_id"], est["total"], est["line_item"]) == (
        "draft",
        1,
        1250.5,
        "Big deal",
    )
    assert event_actions(plan) == ["create"]
    assert books.deals["D1"]["state"] == "processed"


def test_estimate_follows_won_and_lost() -> None:
    books = Books()
    books.run(deal())
    plan = books.run(deal(stage="Closed Won", minutes=1))
    assert books.doc("estimate")["status"] == "accepted"
    assert plan.events[["action", "from_status", "to_status"]].values.tolist() == [
        ["update_status", "draft", "accepted"]
    ]
    books.run(deal(stage="Closed Lost", minutes=2))
    assert books.doc("estimate")["status"] == "declined"


@pytest.mark.parametrize(
    ("stage", "final"), [("Closed Won", "accepted"), ("Closed Lost to Competition", "declined")]
)
def test_deal_created_already_closed_gets_estimate_and_final_status_in_one_run(
    stage: str, final: str
) -> None:
    books = Books()
    plan = books.run(deal(stage=stage))
    assert books.doc("estimate")["status"] == final
    assert plan.events[["action", "from_status", "to_status"]].values.tolist() == [
        ["create", None, "draft"],
        ["update_status", "draft", final],
    ]


def test_contact_customer_is_used_when_the_deal_has_no_account() -> None:
    books = Books()
    books.customers.append(
        {
            "customer_id": 7,
            "crm_account_id": None,
            "crm_contact_id": "C7",
            "status": "active",
            "merged_into_customer_id": None,
        }
    )
    books.run(deal(account=None, contact="C7"))
    assert books.doc("estimate")["customer_id"] == 7


def test_merged_away_customer_is_followed_to_its_master() -> None:
    books = Books()
    books.customers = [
        {"customer_id": 1, "crm_account_id": "A1", "crm_contact_id": None, "status": "inactive",
         "merged_into_customer_id": 2},
        {"customer_id": 2, "crm_account_id": None, "crm_contact_id": None, "status": "inactive",
         "merged_into_customer_id": 3},
        {"customer_id": 3, "crm_account_id": "A3", "crm_contact_id": None, "status": "active",
         "merged_into_customer_id": None},
    ]  # fmt: skip
    books.run(deal())
    assert books.doc("estimate")["customer_id"] == 3


def test_reopened_won_deal_leaves_the_estimate_and_logs_it() -> None:
    books = Books()
    books.run(deal(stage="Closed Won"))
    plan = books.run(deal(stage="Negotiation", minutes=1))
    assert books.doc("estimate")["status"] == "accepted"
    assert actions(plan) == ["leave"]
    assert "left as 'accepted'" in plan.events["reason"].iloc[0]


# --- invoice workflow ------------------------------------------------------------------------


def test_invoice_only_when_won_and_void_when_lost_after() -> None:
    books = Books()
    assert actions(books.run(deal(), workflow="invoice")) == []
    assert books.docs == {}
    plan = books.run(deal(stage="Closed Won", minutes=1), workflow="invoice")
    assert actions(plan) == ["create"]
    assert books.doc("invoice")["status"] == "draft"
    books.run(deal(stage="Closed Lost", minutes=2), workflow="invoice")
    assert books.doc("invoice")["status"] == "void"
    assert books.events[-1]["to_status"] == "void"


def test_never_won_and_lost_creates_no_invoice() -> None:
    books = Books()
    books.run(deal(), workflow="invoice")
    plan = books.run(deal(stage="Closed Lost", minutes=1), workflow="invoice")
    assert books.docs == {}
    assert plan.events.empty
    assert books.deals["D1"]["state"] == "processed"


def test_deal_created_already_won_gets_its_invoice_in_one_run() -> None:
    books = Books()
    books.run(deal(stage="Closed Won"), workflow="invoice")
    assert books.doc("invoice")["status"] == "draft"
    assert books.deals["D1"]["was_won"]


def test_won_deal_back_to_open_stage_leaves_the_invoice_and_logs_it() -> None:
    books = Books()
    books.run(deal(stage="Closed Won"), workflow="invoice")
    plan = books.run(deal(stage="Negotiation", minutes=1), workflow="invoice")
    assert books.doc("invoice")["status"] == "draft"
    assert event_actions(plan) == ["leave"]
    assert "invoice left as 'draft'" in plan.events["reason"].iloc[0]


# --- manual lock -----------------------------------------------------------------------------


def test_paid_invoice_stays_paid_when_the_deal_is_lost() -> None:
    books = Books()
    books.run(deal(stage="Closed Won"), workflow="invoice")
    books.set_status("invoice", "paid")
    plan = books.run(deal(stage="Closed Lost", amount=5.0, minutes=1), workflow="invoice")
    inv = books.doc("invoice")
    assert (inv["status"], inv["total"]) == ("paid", 100.0)
    assert actions(plan) == ["skip_locked"]
    event = plan.events.iloc[0]
    assert (event["action"], event["from_status"], event["to_status"]) == (
        "skip_locked",
        "paid",
        "void",
    )
    assert "'paid'" in event["reason"] and "'void'" in event["reason"]


def test_locked_estimate_is_not_updated_for_amount_or_name() -> None:
    books = Books()
    books.run(deal())
    books.set_status("estimate", "sent")
    plan = books.run(deal(amount=999.0, name="Renamed", minutes=1))
    est = books.doc("estimate")
    assert (est["status"], est["total"], est["line_item"]) == ("sent", 100.0, "Big deal")
    assert event_actions(plan) == ["skip_locked"]
    assert "999.00" in plan.events["reason"].iloc[0]


# --- pending and deleted deals ---------------------------------------------------------------


def test_deal_without_books_customer_waits_and_is_processed_when_it_arrives() -> None:
    books = Books()
    plan = books.run(deal(account="A9", stage="Closed Won", closing="2026-05-31"))
    assert books.docs == {}
    assert books.deals["D1"]["state"] == "pending"
    assert books.deals["D1"]["pending_reason"] == "no active Books customer for CRM account A9"
    assert event_actions(plan) == ["pending"]

    # Nothing changed in the CRM and the customer is still missing: no noise.
    again = books.run()
    assert again.events.empty and again.deal_updates.empty

    books.customers.append(
        {"customer_id": 9, "crm_account_id": "A9", "crm_contact_id": None, "status": "active",
         "merged_into_customer_id": None}
    )  # fmt: skip
    later = books.run()  # the deal is not among the changes: it is retried from the pending state
    est = books.doc("estimate")
    assert (est["customer_id"], est["status"], est["date"]) == (9, "accepted", date(2026, 5, 31))
    assert books.deals["D1"]["state"] == "processed"
    assert "customer arrived" in later.events["reason"].iloc[0]


def test_inactive_customer_does_not_count() -> None:
    books = Books()
    books.customers[0]["status"] = "inactive"
    books.run(deal())
    assert books.deals["D1"]["state"] == "pending"


def test_deal_without_account_or_contact_waits_with_a_reason() -> None:
    books = Books()
    books.run(deal(account=None))
    assert books.deals["D1"]["pending_reason"] == "deal has neither an account nor a contact"


def test_deleted_deal_leaves_documents_and_is_logged_once() -> None:
    books = Books()
    books.run(deal(stage="Closed Won"), workflow="invoice")
    gone = deal(stage=None, amount=None, name=None, account=None, minutes=5, deleted=True)  # type: ignore[arg-type]
    plan = books.run(gone, workflow="invoice")
    assert actions(plan) == []
    assert event_actions(plan) == ["deal_deleted"]
    assert books.doc("invoice")["status"] == "draft"
    assert books.deals["D1"]["state"] == "deleted"
    assert books.deals["D1"]["deal_name"] == "Big deal"  # last known values kept
    again = books.run(gone, workflow="invoice")
    assert again.events.empty and again.deal_updates.empty


# --- amounts, names, dates, idempotency, versions ----------------------------------------------


def test_amount_and_name_changes_update_an_owned_document() -> None:
    books = Books()
    books.run(deal(amount=None))
    assert books.doc("estimate")["total"] == 0.0
    plan = books.run(deal(amount=80.456, name="Renamed", minutes=1))
    est = books.doc("estimate")
    assert (est["total"], est["line_item"], est["status"]) == (80.46, "Renamed", "draft")
    assert event_actions(plan) == ["update_amount"]
    assert plan.events["reason"].iloc[0] == (
        "total 0.00 -> 80.46; line item 'Big deal' -> 'Renamed'"
    )


def test_document_date_is_closing_date_else_the_logical_date() -> None:
    books = Books()
    books.run(deal("D1", closing="2026-06-30"), deal("D2"))
    assert books.doc("estimate", "D1")["date"] == date(2026, 6, 30)
    assert books.doc("estimate", "D2")["date"] == TODAY


def test_same_input_twice_plans_nothing_the_second_time() -> None:
    books = Books()
    changes = [deal("D1", stage="Closed Won"), deal("D2"), deal("D3", account="A9")]
    books.run(*changes)
    second = books.run(*changes)
    assert second.document_actions.empty
    assert second.events.empty
    assert second.deal_updates.empty
    assert second.ignored_versions == 2


def test_older_version_never_overwrites_a_newer_one() -> None:
    books = Books()
    books.run(deal(stage="Closed Won", minutes=10))
    plan = books.run(deal(stage="Qualification", amount=1.0, minutes=5))
    assert plan.deal_updates.empty and plan.document_actions.empty
    assert books.deals["D1"]["stage"] == "Closed Won"


def test_a_second_edit_in_the_same_second_is_not_lost() -> None:
    books = Books()
    books.run(deal())
    plan = books.run(deal(stage="Closed Won"))  # same Modified_Time, new content
    assert books.doc("estimate")["status"] == "accepted"
    assert plan.ignored_versions == 0


def test_latest_version_in_one_batch_wins() -> None:
    books = Books()
    books.run(deal(stage="Closed Won", minutes=2), deal(stage="Closed Lost", minutes=1))
    assert books.doc("estimate")["status"] == "accepted"


# --- switching the setting -------------------------------------------------------------------


def test_off_plans_nothing_but_records_the_deal() -> None:
    books = Books()
    plan = books.run(deal(stage="Closed Won"), workflow="off")
    assert plan.document_actions.empty and plan.events.empty
    assert books.deals["D1"]["state"] == "processed"


def test_switching_the_setting_keeps_the_other_documents() -> None:
    books = Books()
    books.run(deal())
    plan = books.run(deal(stage="Closed Won", minutes=1), workflow="invoice")
    assert actions(plan) == ["create"]
    assert books.doc("estimate")["status"] == "draft"  # the estimate is left as it was
    assert books.doc("invoice")["status"] == "draft"
    books.run(deal(stage="Closed Lost", minutes=2), workflow="estimate")
    assert books.doc("invoice")["status"] == "draft"
    assert books.doc("estimate")["status"] == "declined"


def test_plan_frames_have_the_documented_columns() -> None:
    plan = Books().run(deal())
    assert tuple(plan.document_actions.columns) == ACTION_COLUMNS
    assert tuple(plan.events.columns) == EVENT_COLUMNS
    assert tuple(plan.deal_updates.columns) == KNOWN_DEAL_COLUMNS


# --- properties over any sequence of changes ---------------------------------------------------

STAGES = ["Qualification", "Negotiation", "Closed Won", "closed lost", "Closed Lost to Competition"]
step = st.tuples(
    st.sampled_from(["D1", "D2"]),
    st.sampled_from(STAGES),
    st.sampled_from([None, 10.0, 20.0]),
    st.sampled_from(WORKFLOWS),
    st.sampled_from([None, "sent", "paid", "expired"]),  # a person's edit before the run
    st.booleans(),  # the customer exists by then
    st.sampled_from([False, False, False, True]),  # the deal is deleted in the CRM
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=8))
def test_any_sequence_never_duplicates_and_never_touches_a_locked_document(
    steps: list[tuple[str, str, float | None, str, str | None, bool, bool]],
) -> None:
    books = Books()
    books.customers = []
    locked: dict[tuple[str, str], dict[str, Any]] = {}
    for minute, (deal_id, stage, amount, workflow, edit, customer_ready, gone) in enumerate(steps):
        if customer_ready and not books.customers:
            books.customers.append(
                {"customer_id": 1, "crm_account_id": "A1", "crm_contact_id": None,
                 "status": "active", "merged_into_customer_id": None}
            )  # fmt: skip
        if edit is not None and books.docs:
            key = sorted(books.docs)[0]
            allowed = {"estimate": {"sent", "expired"}, "invoice": {"sent", "paid"}}[key[0]]
            if edit in allowed and books.docs[key]["status"] != edit:
                books.docs[key]["status"] = edit
                locked[key] = dict(books.docs[key])
        plan = books.run(
            deal(deal_id, stage=stage, amount=amount, minutes=minute, deleted=gone),
            workflow=workflow,
        )
        creates = plan.document_actions.query("action == 'create'")
        assert not creates.duplicated(["document_type", "crm_deal_id"]).any()
        if gone:  # a deal deleted in the CRM leaves its documents as they are
            assert plan.document_actions.empty
        for key, snapshot in locked.items():
            assert books.docs[key] == snapshot, "a document changed by a person was touched"
    # Re-running the last step is a no-op.
    deal_id, stage, amount, workflow, _, _, gone = steps[-1]
    again = books.run(
        deal(deal_id, stage=stage, amount=amount, minutes=len(steps) - 1, deleted=gone),
        workflow=workflow,
    )
    assert again.document_actions.empty and again.events.empty and again.deal_updates.empty
    statuses = {"estimate": {"draft", "accepted", "declined"}, "invoice": {"draft", "void"}}
    for key, doc in books.docs.items():
        if key not in locked:
            assert doc["status"] in statuses[key[0]]
