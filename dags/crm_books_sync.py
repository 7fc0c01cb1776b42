"""
### crm_books_sync — CRM Accounts and Contacts into Books customers, every 12 hours

Reads what changed in Zoho CRM (connection `zoho_crm`) since the last successful run, maps
Accounts to business customers and Contacts to contact persons (or individual customers when they
have no account), validates the rows with Great Expectations and loads them into the Books
warehouse (connection `books_warehouse`) in one transaction. Deleted CRM records are deleted in
Books, or kept `inactive` when the customer has estimates or invoices. Likely duplicates are
flagged in `books.duplicate_candidates` (merge them with `books_merge_customers`). Data flows one
way only: nothing is written to the CRM, and Books-native customers are never touched.

**Params** (trigger form): `full_refresh` re-reads every record; `modules` limits the run to
Accounts and/or Contacts; `max_reject_fraction` is the share of rejected rows above which the
whole batch is refused.

**Backfill** an older window (safe in any order; an older CRM version never overwrites a newer one):
`airflow backfill create --dag-id crm_books_sync --from-date 2026-11-01 --to-date 2026-11-03 --max-active-runs 1`
(`backfill create` ignores `max_active_runs`; runs that overlap anyway take turns at the
warehouse lock for their load, deletions and duplicate flags).

**Where to look**: `books.sync_runs` (counts per run and module), `books.rejected_records`
(reason and raw payload of every refused record), `books.duplicate_candidates`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param, task

from crm_books.config import OWNER, SYNC_DAG_ID, SYNC_MODULES, TAGS

BOOKS_CUSTOMERS = Asset("books://warehouse/customers")


def _on_failure(context):  # type: ignore[no-untyped-def]
    from crm_books.airflow_tasks.sync import on_failure

    on_failure(context)


with DAG(
    dag_id=SYNC_DAG_ID,
    schedule=CronDataIntervalTimetable("0 */12 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=[*TAGS, "sync"],
    default_args={
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "on_failure_callback": _on_failure,
    },
    params={
        "full_refresh": Param(False, type="boolean", description="Re-read every CRM record."),
        "modules": Param(
            list(SYNC_MODULES),
            type="array",
            items={"type": "string", "enum": list(SYNC_MODULES)},
            minItems=1,
            description="CRM modules to sync.",
        ),
        "max_reject_fraction": Param(
            0.2,
            type="number",
            minimum=0,
            maximum=1,
            description="Refuse the whole batch when more than this share of rows is rejected.",
        ),
    },
) as dag:

    @task
    def ensure_schema() -> list[str]:
        from crm_books.airflow_tasks import sync as sync_tasks

        return sync_tasks.ensure_schema()

    @task
    def check_organization(**context):  # type: ignore[no-untyped-def]
        from crm_books.airflow_tasks import sync as sync_tasks

        return sync_tasks.check_organization(context)

    @task
    def extract_accounts(**context):  # type: ignore[no-untyped-def]
        from crm_books.airflow_tasks import sync as sync_tasks

        return sync_tasks.extract("Accounts", context)

    @task
    def extract_contacts(**context):  # type: ignore[no-untyped-def]
        from crm_books.airflow_tasks import sync as sync_tasks

        return sync_tasks.extract("Contacts", context)

    @task(trigger_rule="none_failed")
    def transform_records(**context):  # type: ignore[no-untyped-def]
        from crm_books.airflow_tasks import sync as sync_tasks

        return sync_tasks.transform(context)

    @task
    def validate_records(**context):  # type: ignore[no-untyped-def]
        from crm_books.airflow_tasks import sync as sync_tasks

        return sync_tasks.validate(context)

    @task(outlets=[BOOKS_CUSTOMERS])
    def load_customers(**context):  # type: ignore[no-untyped-def]
        from crm_books.airflow_tasks import sync as sync_tasks

        return sync_tasks.load(context)

    @task
    def apply_deletions(**context):  # type: ignore[no-untyped-def]
        from crm_books.airflow_tasks import sync as sync_tasks

        return sync_tasks.apply_deletions(context)

    @task
    def flag_duplicates(**context):  # type: ignore[no-untyped-def]
        from crm_books.airflow_tasks import sync as sync_tasks

        return sync_tasks.flag_duplicates(context)

    @task
    def record_run(**context):  # type: ignore[no-untyped-def]
        from crm_books.airflow_tasks import sync as sync_tasks

        return sync_tasks.finish(context)

    extracts = [extract_accounts(), extract_contacts()]
    ensure_schema() >> check_organization() >> extracts
    (
        extracts
        >> transform_records()
        >> validate_records()
        >> load_customers()
        >> apply_deletions()
        >> flag_duplicates()
        >> record_run()
    )
