"""The workflow benchmark: deal changes planned and applied (estimate workflow) in one transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from devtools.bench.measure import Timer
from devtools.bench.report import SECTION_WORKFLOW, total_row
from devtools.bench.sync_run import crm_ids

log = logging.getLogger("devtools.bench")


def deal_records(
    account_ids: Sequence[str], contact_ids: Sequence[str], n: int
) -> list[dict[str, Any]]:
    """``n`` Zoho Deal records for the workflow benchmark: mostly for known accounts, some for
    individual contacts, one in twenty for an account not in Books (they wait as pending)."""
    stages = ("Qualification", "Closed Won", "Needs Analysis", "Closed Lost")
    modified = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds")
    out = []
    for i in range(n):
        record: dict[str, Any] = {
            "id": str(9_000_000_000 + i),
            "Deal_Name": f"Bench deal {i}",
            "Amount": float(100 + i % 9_000),
            "Stage": stages[i % len(stages)],
            "Account_Name": None,
            "Contact_Name": None,
            "Closing_Date": None,
            "Modified_Time": modified,
        }
        if i % 20 == 19 or not (account_ids or contact_ids):
            record["Account_Name"] = {"id": f"missing-{i}", "name": "Not in Books"}
        elif i % 5 == 4 and contact_ids:
            record["Contact_Name"] = {"id": contact_ids[i % len(contact_ids)], "name": "Someone"}
        elif account_ids:
            record["Account_Name"] = {"id": account_ids[i % len(account_ids)], "name": "Acme"}
        else:
            record["Contact_Name"] = {"id": contact_ids[i % len(contact_ids)], "name": "Someone"}
        out.append(record)
    return out


def run_workflow(timer: Timer, engine: Engine, deals: int) -> dict[str, int]:
    """``deals`` deal changes planned and applied (estimate workflow) in one transaction."""
    from crm_books.deals.changes import deal_changes_frame
    from crm_books.deals.rules import plan_transitions
    from crm_books.deals.store import apply_plan, load_state

    records = deal_records(
        crm_ids(engine, "customers", "crm_account_id"),
        crm_ids(engine, "customers", "crm_contact_id"),
        deals,
    )
    with timer.phase(SECTION_WORKFLOW, "deal_changes_frame", deals):
        changes = deal_changes_frame(records)
    del records
    with engine.begin() as conn:
        with timer.phase(SECTION_WORKFLOW, "load_state", deals):
            known, documents, customers = load_state(conn, changes["crm_deal_id"].tolist())
        with timer.phase(SECTION_WORKFLOW, "plan_transitions", deals):
            plan = plan_transitions(
                changes, known, documents, customers, workflow="estimate", today=date.today()
            )
        with timer.phase(SECTION_WORKFLOW, "apply_plan", deals):
            counts = apply_plan(
                conn, plan, run_id=f"bench-{uuid.uuid4().hex[:8]}", workflow="estimate"
            )
    timer.report.rows.append(
        total_row(SECTION_WORKFLOW, timer.report.section(SECTION_WORKFLOW), deals)
    )
    log.info("workflow: %s", counts)
    return counts
