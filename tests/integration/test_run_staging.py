"""finish_run clears the run's staging and keeps other runs' (both backends).

A failed run keeps its staged rows for its retry; a run that finishes while they are there
deletes only its own rows. When nothing else is staged the tables are emptied at once.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from crm_books.customers.plan import SyncRun
from crm_books.customers.run_log import finish_run

COUNTS = (
    "SELECT run_id, COUNT(*) FROM ("
    " SELECT run_id FROM books.stg_crm_records UNION ALL SELECT run_id FROM books.stg_customers"
    " UNION ALL SELECT run_id FROM books.stg_rejects"
    ") AS staged GROUP BY run_id ORDER BY run_id"
)


def stage(engine: Engine, run_id: str, records: int) -> None:
    with engine.begin() as conn:
        for n in range(records):
            params = {"run": run_id, "id": f"{run_id}-{n}"}
            conn.execute(
                text(
                    "INSERT INTO books.stg_crm_records (run_id, module, crm_id, payload)"
                    " VALUES (:run, 'Accounts', :id, '{}')"
                ),
                params,
            )
            conn.execute(
                text(
                    "INSERT INTO books.stg_customers (run_id, module, crm_account_id,"
                    " customer_sub_type, contact_name) VALUES (:run, 'Accounts', :id, 'business', 'A')"
                ),
                params,
            )
        conn.execute(
            text(
                "INSERT INTO books.stg_rejects (run_id, module, crm_id, stage, reason, raw_payload)"
                " VALUES (:run, 'Accounts', 'bad', 'transform', 'no name', '{}')"
            ),
            {"run": run_id},
        )


def staged(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [(r[0], int(r[1])) for r in conn.execute(text(COUNTS))]


def test_a_finished_run_clears_its_staging_and_keeps_a_failed_runs(warehouse: Engine) -> None:
    # Run ids on both sides of the finishing one: "a-..." sorts before it, "z-..." after.
    stage(warehouse, "a-failed", 2)
    stage(warehouse, "m-finishing", 3)
    stage(warehouse, "z-failed", 1)
    finish_run(warehouse, SyncRun(run_id="m-finishing"))
    assert staged(warehouse) == [("a-failed", 5), ("z-failed", 3)]
    finish_run(warehouse, SyncRun(run_id="a-failed"))
    assert staged(warehouse) == [("z-failed", 3)]
    finish_run(warehouse, SyncRun(run_id="z-failed"))  # nothing else staged: all cleared
    assert staged(warehouse) == []
    stage(warehouse, "next", 2)  # the emptied tables take the next run's rows as before
    assert staged(warehouse) == [("next", 5)]
