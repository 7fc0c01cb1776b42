"""
### books_merge_customers — fold duplicate Books customers into one master (manual)

Trigger it from the UI form. Find duplicates in `books.duplicate_candidates` (rows with
`status = 'open'` sharing a `group_key`), pick the master and the customers to fold into it, and
run first with **dry_run** on: `check_merge` reports exactly what would move and nothing changes.
Then trigger again with dry_run off and `MERGE` typed in **confirm**.

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

from airflow.sdk import DAG, Param, task

from crm_books.config import DEFAULT_ARGS, MERGE_DAG_ID, START_DATE, TAGS

with DAG(
    dag_id=MERGE_DAG_ID,
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=[*TAGS, "merge"],
    default_args=DEFAULT_ARGS,
    params={
        "master_customer_id": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Master customer id",
            description=(
                "books.customers.customer_id that stays and receives everything. It must be "
                "active, and CRM-linked whenever any customer in the group is CRM-linked."
            ),
        ),
        "merge_customer_ids": Param(
            [],
            type="array",
            items={"type": "integer", "minimum": 1},
            title="Customer ids to merge",
            description=(
                "Customers folded into the master: their estimates, invoices and contact persons "
                "move to it and they become inactive. Each must be active; no id twice."
            ),
        ),
        "dry_run": Param(
            True,
            type="boolean",
            title="Dry run",
            description="On: only report what would move, change nothing. Off: merge for real.",
        ),
        "confirm": Param(
            "",
            type="string",
            title="Confirm",
            description="Type MERGE to merge for real when dry run is off. Merges cannot be undone.",
        ),
    },
) as dag:

    @task
    def check_merge(**context):  # type: ignore[no-untyped-def]
        from crm_books.airflow_tasks.merge import check_merge_task

        return check_merge_task(context)

    @task
    def merge_customers(**context):  # type: ignore[no-untyped-def]
        from crm_books.airflow_tasks.merge import merge_customers_task

        return merge_customers_task(context)

    check_merge() >> merge_customers()
