"""
### books_merge_customers — fold duplicate Books customers into one master (manual)

Trigger it from the UI form. Find duplicates in `books.duplicate_candidates` (rows with
`status = 'open'` sharing a `group_key`), pick the master and the customers to fold into it, and
run first with **dry_run** on: `check_merge` reports exactly what would move and nothing changes.
Then trigger again with dry_run off and `MERGE` typed in **confirm** (confirm is needed only then;
the first task refuses a real merge without it before anything changes). The ids to merge may be
typed as `1058, 1059` or sent as a list (`[1058, 1059]`) through the REST API.

**Rules** (checked before any change; a broken rule fails the run with a message naming the rule
and the ids, and nothing changes):
- at least one customer to merge, and no id listed twice;
- the master cannot also be merged away;
- every customer must exist and be active (a customer already merged away is inactive);
- a CRM-linked customer must be the master when any customer in the group is CRM-linked.
  Books-native customers can be merged into a CRM-linked master; two CRM-linked customers can
  be merged, one of them being the master.

**Effect, in one transaction**: estimates, invoices and contact persons move to the master; the
merged customers become `inactive` with `merged_into_customer_id` set (customers earlier folded
into them now point at the master); `books.merges` records who was merged into whom, when, by
which run and user, and what moved (counts and ids); duplicate candidates the merge settles are
closed (`status = 'merged'`).

**Merges cannot be undone.** There is no unmerge. Later syncs never revive or update a merged-away
CRM record; deleting the master in the CRM marks it inactive (B5: it holds transactions).

**Retries** are safe: a retry of a run that already committed returns the recorded merge; a new
run naming customers already merged is refused (they are no longer active).

See docs/merge.md.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task

from crm_books.airflow_tasks.alerts import FailureAlert
from crm_books.config import MERGE_DAG_ID, dag_settings
from crm_books.customers.merge_rules import CONFIRM_WORD

# Comma-separated customer ids, e.g. "1058, 1059" (an empty text means none).
CONFIRM_PATTERN = rf"^\s*({CONFIRM_WORD})?\s*$"
IDS_PATTERN = r"^\s*([1-9][0-9]*(\s*,\s*[1-9][0-9]*)*)?\s*$"

with DAG(
    dag_id=MERGE_DAG_ID,
    schedule=None,
    **dag_settings(__doc__, "merge", on_failure_callback=FailureAlert()),
    params={
        "master_customer_id": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Master customer id (books.customers.customer_id)",
            description=(
                "A customer_id (a whole number, e.g. 1058) of the customer that stays and receives "
                "everything. It must be active, and CRM-linked whenever any customer in the group "
                "is CRM-linked."
            ),
        ),
        "merge_customer_ids": Param(
            [],
            # A list, one id, or text such as "1058, 1059": the form's text box accepts each.
            type=["array", "string", "integer"],
            items={"type": "integer", "minimum": 1},
            minimum=1,
            uniqueItems=True,
            pattern=IDS_PATTERN,
            title="Customer ids to merge (books.customers.customer_id)",
            description=(
                "customer_ids (whole numbers) folded into the master, comma-separated (1058, 1059) "
                "or as a list: their estimates, invoices and contact persons move to it and they "
                "become inactive. Each must be active; no id twice."
            ),
        ),
        "dry_run": Param(
            True,
            type="boolean",
            title="Dry run",
            description=(
                "On (default): only report what would move, change nothing. Off: merge for real "
                "(then Confirm must say MERGE). A yes/no switch, no unit."
            ),
        ),
        "confirm": Param(
            "",
            type=["null", "string"],
            pattern=CONFIRM_PATTERN,
            title="Confirm (only when dry run is off)",
            description=(
                f"Leave empty for a dry run. To merge for real, turn dry run off and type "
                f"{CONFIRM_WORD} (capital letters): merges cannot be undone."
            ),
        ),
    },
) as dag:
    # One XCom, the whole report (a dict return would also push each key).
    @task(multiple_outputs=False)
    def check_merge() -> dict[str, Any]:
        from crm_books.airflow_tasks import merge

        return merge.check_merge()

    @task(multiple_outputs=False)
    def merge_customers() -> dict[str, Any]:
        from crm_books.airflow_tasks import merge

        return merge.merge_customers()

    check_merge() >> merge_customers()
