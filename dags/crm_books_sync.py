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
Accounts and/or Contacts (at least one); `max_reject_fraction` is the share of rejected rows, a
fraction from 0 to 1 (0.2 = 20 %), above which the whole batch is refused. A value outside its
bounds is refused by the form and the REST API (HTTP 400), never clamped.

**Failure mails** (off by default): see docs/operating.md, "Failure notifications".

**Backfill** an older window (safe in any order; an older CRM version never overwrites a newer one):
`airflow backfill create --dag-id crm_books_sync --from-date 2026-11-01 --to-date 2026-11-03 --max-active-runs 1`
(`backfill create` ignores `max_active_runs`; runs that overlap anyway take turns at the
warehouse lock for their load, deletions and duplicate flags).

**Tasks**: `plan_run` reads the run's id, data interval and Params into a small plan that every
later task takes as its argument. `list_chunks` cuts the extracted records into keyset chunks;
`transform_chunk` and `validate_chunk` are mapped over them (one task instance per chunk, each
retried on its own, spread over the workers); `transform_records` and `validate_records` add up
their counts, and `validate_records` fails the run when a chunk failed a table-level check.

**Where to look**: `books.sync_runs` (counts per run and module), `books.rejected_records`
(reason and raw payload of every refused record), `books.duplicate_candidates`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param, task

from crm_books.airflow_tasks.alerts import FailureAlert
from crm_books.config import CUSTOMERS_ASSET_URI, SYNC_DAG_ID, SYNC_MODULES, dag_settings
from crm_books.customers.plan import DEFAULT_MAX_REJECT_FRACTION

# Task bodies live in crm_books.airflow_tasks.sync, imported inside each task, so the DAG file
# parses without pandas, Great Expectations, HTTP or database libraries. The types are imported
# for checkers only, which also keeps TaskFlow from reading a dict result as multiple outputs.
if TYPE_CHECKING:
    from airflow.sdk import Context

    from crm_books.airflow_tasks.sync import Counts, Plan
    from crm_books.customers.staging import Chunk


def _on_failure(context: Context) -> None:
    from crm_books.airflow_tasks.sync import on_failure

    on_failure(context)


with DAG(
    dag_id=SYNC_DAG_ID,
    schedule=CronDataIntervalTimetable("0 */12 * * *", timezone="UTC"),
    **dag_settings(
        __doc__,
        "sync",
        retry_delay=timedelta(minutes=2),
        on_failure_callback=[_on_failure, FailureAlert()],
    ),
    params={
        "full_refresh": Param(
            False,
            type="boolean",
            title="Full refresh",
            description=(
                "On: re-read every CRM record of the selected modules. Off (default): only what "
                "changed since the last successful run (a yes/no switch, no unit)."
            ),
        ),
        "modules": Param(
            list(SYNC_MODULES),
            type="array",
            # examples makes the trigger form a multi-select; items/enum refuses anything else.
            examples=list(SYNC_MODULES),
            items={"type": "string", "enum": list(SYNC_MODULES)},
            minItems=1,
            uniqueItems=True,
            title="CRM modules",
            description="Which CRM modules to sync: pick Accounts, Contacts or both (at least one).",
        ),
        "max_reject_fraction": Param(
            DEFAULT_MAX_REJECT_FRACTION,
            type="number",
            minimum=0,
            maximum=1,
            title="Largest share of rejected rows (fraction 0-1)",
            description=(
                "A fraction from 0 to 1, not a percentage: 0.2 means 20 %. When more than this "
                "share of a chunk's rows fail their checks, the whole batch is refused. Values "
                "outside 0-1 (e.g. 20) are refused, not clamped."
            ),
        ),
    },
) as dag:

    @task
    def plan_run() -> Plan:
        from crm_books.airflow_tasks import sync

        return sync.plan_run()

    @task
    def ensure_schema() -> list[str]:
        from crm_books.airflow_tasks import sync

        return sync.ensure_schema()

    @task
    def check_organization(plan: Plan) -> Counts:
        from crm_books.airflow_tasks import sync

        return sync.check_organization(plan)

    @task
    def extract_accounts(plan: Plan) -> Counts:
        from crm_books.airflow_tasks import sync

        return sync.extract("Accounts", plan)

    @task
    def extract_contacts(plan: Plan) -> Counts:
        from crm_books.airflow_tasks import sync

        return sync.extract("Contacts", plan)

    # An extract that is not selected is skipped; the chunks of the other one still go ahead.
    @task(trigger_rule="none_failed")
    def list_chunks(plan: Plan) -> list[Chunk]:
        from crm_books.airflow_tasks import sync

        return sync.list_chunks(plan)

    # No max_active_tis_per_dagrun: on SQLite each chunk's writes wait for the write lock
    # (BEGIN IMMEDIATE with a long busy timeout) while their mapping and checks run side by side.
    @task(map_index_template="{{ task.op_kwargs['chunk']['label'] }}")
    def transform_chunk(plan: Plan, chunk: Chunk) -> Counts:
        from crm_books.airflow_tasks import sync

        return sync.transform_chunk(plan, chunk)

    @task
    def transform_records(counts: list[Counts]) -> Counts:
        from crm_books.airflow_tasks import sync

        return sync.transform_records(counts)

    @task(map_index_template="{{ task.op_kwargs['chunk']['label'] }}")
    def validate_chunk(plan: Plan, chunk: Chunk) -> Counts:
        from crm_books.airflow_tasks import sync

        return sync.validate_chunk(plan, chunk)

    @task
    def validate_records(plan: Plan, results: list[Counts]) -> Counts:
        from crm_books.airflow_tasks import sync

        return sync.validate_records(plan, results)

    @task(outlets=[Asset(CUSTOMERS_ASSET_URI)])
    def load_customers(plan: Plan) -> Counts:
        from crm_books.airflow_tasks import sync

        return sync.load(plan)

    @task
    def apply_deletions(plan: Plan) -> Counts:
        from crm_books.airflow_tasks import sync

        return sync.apply_deletions(plan)

    @task
    def flag_duplicates(plan: Plan) -> Counts:
        from crm_books.airflow_tasks import sync

        return sync.flag_duplicates(plan)

    @task
    def record_run(plan: Plan) -> list[Counts]:
        from crm_books.airflow_tasks import sync

        return sync.finish(plan)

    plan = plan_run()
    organization = check_organization(plan)
    plan >> ensure_schema() >> organization
    extracts = [extract_accounts(plan), extract_contacts(plan)]
    organization >> extracts
    chunks = list_chunks(plan)
    extracts >> chunks
    staged = transform_chunk.partial(plan=plan).expand(chunk=chunks)
    checked = validate_chunk.partial(plan=plan).expand(chunk=chunks)
    transform_records(staged) >> checked
    loaded = load_customers(plan)
    validate_records(plan, checked) >> loaded
    loaded >> apply_deletions(plan) >> flag_duplicates(plan) >> record_run(plan)
