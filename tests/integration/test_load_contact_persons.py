"""load_run's contact persons on SQLite and PostgreSQL: attached at once, held, superseded, primaries.

Each test stages transformed rows the way transform_run leaves them, runs the load step and
checks what a Books user sees: which customer a contact person belongs to, with which values,
which contacts wait for their account, the run log's counts, and one primary per customer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from crm_books import config
from crm_books.customers.deletions import apply_deletions
from crm_books.customers.load import load_run
from crm_books.customers.plan import SyncRun
from crm_books.warehouse.timestamps import db_timestamp, utcnow

NOW = db_timestamp(utcnow())
T1 = "2026-11-01 10:00:00+00:00"
T2 = "2026-11-02 10:00:00+00:00"
T3 = "2026-11-03 10:00:00+00:00"


def stage_account(engine: Engine, run_id: str, account_id: str, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO books.stg_customers (run_id, module, crm_account_id, customer_sub_type,"
                " contact_name, company_name, crm_modified_time)"
                " VALUES (:r, 'Accounts', :a, 'business', :n, :n, :t)"
            ),
            {"r": run_id, "a": account_id, "n": name, "t": T1},
        )


def stage_person(
    engine: Engine, run_id: str, contact_id: str, account_id: str, first: str, when: str
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO books.stg_contact_persons (run_id, crm_contact_id, crm_account_id,"
                " first_name, last_name, email, crm_modified_time)"
                " VALUES (:r, :c, :a, :f, 'Doe', :e, :t)"
            ),
            {
                "r": run_id,
                "c": contact_id,
                "a": account_id,
                "f": first,
                "e": f"{first}@x.test",
                "t": when,
            },
        )


def load(engine: Engine, run_id: str, *modules: str) -> dict[str, dict[str, int]]:
    run = SyncRun(run_id=run_id, modules=modules or config.SYNC_MODULES)
    return load_run(engine, run)


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def persons(engine: Engine) -> list[tuple[Any, ...]]:
    """(contact, account of its customer, first name, primary) for every contact person."""
    return [
        (c, a, f, bool(p))
        for c, a, f, p in rows(
            engine,
            "SELECT p.crm_contact_id, c.crm_account_id, p.first_name, p.is_primary_contact"
            " FROM books.contact_persons p JOIN books.customers c ON c.customer_id = p.customer_id"
            " ORDER BY p.crm_contact_id",
        )
    ]


def held(engine: Engine) -> list[tuple[Any, ...]]:
    return rows(
        engine,
        "SELECT crm_contact_id, crm_account_id, first_name FROM books.pending_contact_persons"
        " ORDER BY crm_contact_id",
    )


def person_counts(result: dict[str, dict[str, int]]) -> tuple[int, int, int, int]:
    c = result[config.CONTACTS]
    return c["inserted"], c["updated"], c["unchanged"], c["held"]


def test_contacts_of_an_account_loaded_in_the_same_run_attach_at_once(warehouse: Engine) -> None:
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_account(warehouse, "r1", "A-2", "Globex")
    for contact, account, first in [
        ("C-3", "A-1", "Cy"), ("C-1", "A-1", "Ann"), ("C-2", "A-2", "Bo"), ("C-9", "A-404", "Nia"),
    ]:  # fmt: skip
        stage_person(warehouse, "r1", contact, account, first, T1)
    result = load(warehouse, "r1")
    # One primary per customer: the first of its contacts.
    assert persons(warehouse) == [
        ("C-1", "A-1", "Ann", True),
        ("C-2", "A-2", "Bo", True),
        ("C-3", "A-1", "Cy", False),
    ]
    assert held(warehouse) == [("C-9", "A-404", "Nia")]  # its account has not arrived
    assert result[config.ACCOUNTS]["inserted"] == 2
    assert person_counts(result) == (3, 0, 0, 1)


def test_a_held_contact_attaches_when_its_account_lands_and_keeps_the_primary_rule(
    warehouse: Engine,
) -> None:
    stage_person(warehouse, "r1", "C-1", "A-1", "Ann", T1)
    stage_person(warehouse, "r1", "C-2", "A-1", "Bo", T1)
    assert person_counts(load(warehouse, "r1")) == (0, 0, 0, 2)
    assert persons(warehouse) == []

    # The account arrives with a third contact: the held ones join the new one.
    stage_account(warehouse, "r2", "A-1", "Acme")
    stage_person(warehouse, "r2", "C-3", "A-1", "Cy", T2)
    result = load(warehouse, "r2")
    assert held(warehouse) == []
    assert [p[:3] for p in persons(warehouse)] == [
        ("C-1", "A-1", "Ann"), ("C-2", "A-1", "Bo"), ("C-3", "A-1", "Cy"),
    ]  # fmt: skip
    assert sum(p[3] for p in persons(warehouse)) == 1
    assert person_counts(result) == (3, 0, 0, 0)


def test_an_older_staged_version_never_replaces_a_newer_held_one(warehouse: Engine) -> None:
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_person(warehouse, "r1", "C-1", "A-404", "Newer", T2)  # moved to an account not in Books
    load(warehouse, "r1")
    assert held(warehouse) == [("C-1", "A-404", "Newer")]

    # A backfill re-reads the older version, when C-1 was still on Acme: it must not land.
    stage_person(warehouse, "r2", "C-1", "A-1", "Older", T1)
    result = load(warehouse, "r2", config.CONTACTS)
    assert persons(warehouse) == []
    assert held(warehouse) == [("C-1", "A-404", "Newer")]
    assert person_counts(result) == (0, 0, 0, 1)


def test_a_newer_version_on_an_existing_account_replaces_the_held_one(warehouse: Engine) -> None:
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_person(warehouse, "r1", "C-1", "A-404", "Held", T1)
    load(warehouse, "r1")

    stage_person(warehouse, "r2", "C-1", "A-1", "Moved", T2)
    result = load(warehouse, "r2", config.CONTACTS)
    assert persons(warehouse) == [("C-1", "A-1", "Moved", True)]
    assert held(warehouse) == []
    assert person_counts(result) == (1, 0, 0, 0)


def test_updates_count_and_an_older_version_leaves_the_contact_person_alone(
    warehouse: Engine,
) -> None:
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_person(warehouse, "r1", "C-1", "A-1", "Ann", T2)
    stage_person(warehouse, "r1", "C-2", "A-1", "Bo", T2)
    load(warehouse, "r1")

    stage_person(warehouse, "r2", "C-1", "A-1", "Annie", T3)  # newer: updated
    stage_person(warehouse, "r2", "C-2", "A-1", "Bob", T1)  # older: unchanged
    stage_person(warehouse, "r2", "C-4", "A-404", "Dee", T3)  # account missing: held
    result = load(warehouse, "r2", config.CONTACTS)
    assert persons(warehouse) == [("C-1", "A-1", "Annie", True), ("C-2", "A-1", "Bo", False)]
    assert person_counts(result) == (0, 1, 1, 1)


def test_a_contact_moving_to_another_account_leaves_both_customers_one_primary(
    warehouse: Engine,
) -> None:
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_account(warehouse, "r1", "A-2", "Globex")
    stage_person(warehouse, "r1", "C-1", "A-1", "Ann", T1)
    stage_person(warehouse, "r1", "C-2", "A-1", "Bo", T1)
    load(warehouse, "r1")
    assert [(p[0], p[3]) for p in persons(warehouse)] == [("C-1", True), ("C-2", False)]

    # Acme's primary moves to Globex, which has no contact persons yet, with a new colleague.
    stage_person(warehouse, "r2", "C-1", "A-2", "Ann", T2)
    stage_person(warehouse, "r2", "C-0", "A-2", "Al", T2)
    result = load(warehouse, "r2", config.CONTACTS)
    found = persons(warehouse)
    assert [p[:2] for p in found] == [("C-0", "A-2"), ("C-1", "A-2"), ("C-2", "A-1")]
    primaries = {account: contact for contact, account, _, primary in found if primary}
    assert primaries == {"A-1": "C-2", "A-2": "C-1"}  # C-1 stays primary; Acme gets a new one
    assert sum(p[3] for p in found) == 2
    assert person_counts(result) == (1, 1, 0, 0)


def test_a_customer_whose_primary_was_deleted_gets_a_new_one_on_the_next_load(
    warehouse: Engine,
) -> None:
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_person(warehouse, "r1", "C-1", "A-1", "Ann", T1)
    stage_person(warehouse, "r1", "C-2", "A-1", "Bo", T1)
    load(warehouse, "r1")
    with warehouse.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO books.stg_crm_deleted (run_id, module, crm_id, deleted_time)"
                " VALUES ('r1', 'Contacts', 'C-1', :t)"
            ),
            {"t": T2},
        )
    apply_deletions(warehouse, SyncRun(run_id="r1", modules=(config.CONTACTS,)))
    assert [p[0] for p in persons(warehouse)] == ["C-2"]

    # The next run changes nothing for Acme, yet it ends with exactly one primary again.
    stage_account(warehouse, "r2", "A-2", "Globex")
    load(warehouse, "r2", config.ACCOUNTS)
    assert persons(warehouse) == [("C-2", "A-1", "Bo", True)]


def test_contacts_of_a_merged_away_account_join_the_master_which_keeps_its_primary(
    warehouse: Engine,
) -> None:
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_account(warehouse, "r1", "A-2", "Acme Inc")
    stage_person(warehouse, "r1", "C-1", "A-1", "Ann", T1)
    load(warehouse, "r1")
    with warehouse.begin() as conn:
        conn.execute(
            text(
                "UPDATE books.customers SET status = 'inactive', merged_into_customer_id ="
                " (SELECT customer_id FROM books.customers WHERE crm_account_id = 'A-1')"
                " WHERE crm_account_id = 'A-2'"
            )
        )
    stage_person(warehouse, "r2", "C-0", "A-2", "Al", T2)
    load(warehouse, "r2", config.CONTACTS)
    assert persons(warehouse) == [("C-0", "A-1", "Al", False), ("C-1", "A-1", "Ann", True)]


def stage_individual(engine: Engine, run_id: str, contact_id: str, name: str, when: str) -> None:
    """A contact without an account, staged as its own customer the way transform_run leaves it."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO books.stg_customers (run_id, module, crm_contact_id, customer_sub_type,"
                " contact_name, crm_modified_time)"
                " VALUES (:r, 'Contacts', :c, 'individual', :n, :t)"
            ),
            {"r": run_id, "c": contact_id, "n": name, "t": when},
        )


def individuals(engine: Engine) -> list[tuple[Any, ...]]:
    """(contact, name, status) of every individual customer."""
    return rows(
        engine,
        "SELECT crm_contact_id, contact_name, status FROM books.customers"
        " WHERE crm_contact_id IS NOT NULL ORDER BY crm_contact_id",
    )


def customer_id(engine: Engine, contact_id: str) -> int:
    found = rows(
        engine, "SELECT customer_id FROM books.customers WHERE crm_contact_id = :c", c=contact_id
    )
    return int(found[0][0])


def add_invoice(engine: Engine, customer: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO books.invoices (invoice_number, customer_id, status, total, date,"
                " created_at, updated_at) VALUES (:n, :c, 'sent', 10, '2026-11-01', :now, :now)"
            ),
            {"n": f"INV-{customer}", "c": customer, "now": NOW},
        )


def run_log(engine: Engine, run_id: str) -> tuple[int, int]:
    deleted, inactivated = rows(
        engine,
        "SELECT SUM(deleted), SUM(inactivated) FROM books.sync_runs WHERE run_id = :r",
        r=run_id,
    )[0]
    return int(deleted), int(inactivated)


def start_run_log(engine: Engine, run_id: str) -> None:
    with engine.begin() as conn:
        for module in config.SYNC_MODULES:
            conn.execute(
                text(
                    "INSERT INTO books.sync_runs (run_id, module, status, started_at)"
                    " VALUES (:r, :m, 'running', :now)"
                ),
                {"r": run_id, "m": module, "now": NOW},
            )


def test_a_contact_that_gains_an_account_retires_its_individual_customer(
    warehouse: Engine,
) -> None:
    stage_individual(warehouse, "r1", "C-1", "Ann Doe", T1)
    stage_individual(warehouse, "r1", "C-2", "Bo Doe", T1)
    stage_individual(warehouse, "r1", "C-3", "Cy Doe", T1)
    load(warehouse, "r1")
    add_invoice(warehouse, customer_id(warehouse, "C-2"))
    ann = customer_id(warehouse, "C-1")
    with warehouse.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO books.duplicate_candidates (group_key, customer_id, match_reason,"
                " first_flagged_run_id, flagged_at) VALUES ('name:ann doe', :c, 'name', 'r1', :now)"
            ),
            {"c": ann, "now": NOW},
        )

    # Ann joins Acme; Bo (who has an invoice) joins an account not in Books yet; Cy only changes.
    start_run_log(warehouse, "r2")
    stage_account(warehouse, "r2", "A-1", "Acme")
    stage_person(warehouse, "r2", "C-1", "A-1", "Ann", T2)
    stage_person(warehouse, "r2", "C-2", "A-404", "Bo", T2)
    stage_individual(warehouse, "r2", "C-3", "Cy Doe-Ray", T2)
    load(warehouse, "r2")
    assert individuals(warehouse) == [
        ("C-2", "Bo Doe", "inactive"),
        ("C-3", "Cy Doe-Ray", "active"),
    ]
    assert persons(warehouse) == [("C-1", "A-1", "Ann", True)]
    assert held(warehouse) == [("C-2", "A-404", "Bo")]
    assert rows(warehouse, "SELECT customer_id FROM books.duplicate_candidates") == []
    assert run_log(warehouse, "r2") == (1, 1)  # Ann's customer deleted, Bo's kept inactive

    # Bo's account lands: Bo joins it, and the inactive customer keeps its invoice.
    stage_account(warehouse, "r3", "A-404", "Globex")
    load(warehouse, "r3")
    assert persons(warehouse) == [("C-1", "A-1", "Ann", True), ("C-2", "A-404", "Bo", True)]
    assert individuals(warehouse)[0] == ("C-2", "Bo Doe", "inactive")
    assert rows(warehouse, "SELECT COUNT(*) FROM books.invoices") == [(1,)]


def test_a_contact_that_loses_its_account_leaves_the_contact_persons(warehouse: Engine) -> None:
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_person(warehouse, "r1", "C-1", "A-1", "Ann", T1)
    stage_person(warehouse, "r1", "C-2", "A-1", "Bo", T1)
    stage_person(warehouse, "r1", "C-3", "A-404", "Cy", T1)
    load(warehouse, "r1")
    assert [(p[0], p[3]) for p in persons(warehouse)] == [("C-1", True), ("C-2", False)]

    # Acme's primary Ann and the held Cy lose their accounts: each becomes its own customer.
    start_run_log(warehouse, "r2")
    stage_individual(warehouse, "r2", "C-1", "Ann Doe", T2)
    stage_individual(warehouse, "r2", "C-3", "Cy Doe", T2)
    result = load(warehouse, "r2", config.CONTACTS)
    assert individuals(warehouse) == [("C-1", "Ann Doe", "active"), ("C-3", "Cy Doe", "active")]
    assert persons(warehouse) == [("C-2", "A-1", "Bo", True)]  # Acme keeps exactly one primary
    assert held(warehouse) == []
    assert person_counts(result) == (2, 0, 0, 0)
    assert run_log(warehouse, "r2") == (1, 0)  # Ann's contact person removed

    # Cy's old account arriving later does not bring the held copy back.
    stage_account(warehouse, "r3", "A-404", "Globex")
    load(warehouse, "r3", config.ACCOUNTS)
    assert persons(warehouse) == [("C-2", "A-1", "Bo", True)]


def test_an_older_version_never_undoes_a_move(warehouse: Engine) -> None:
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_individual(warehouse, "r1", "C-1", "Ann Doe", T1)
    stage_person(warehouse, "r1", "C-2", "A-1", "Bo", T1)
    stage_person(warehouse, "r1", "C-3", "A-1", "Cy", T1)
    load(warehouse, "r1")
    stage_person(warehouse, "r2", "C-1", "A-1", "Ann", T3)  # gains Acme
    stage_individual(warehouse, "r2", "C-2", "Bo Doe", T3)  # leaves Acme
    load(warehouse, "r2", config.CONTACTS)
    after_moves = (individuals(warehouse), persons(warehouse), held(warehouse))
    assert after_moves[0] == [("C-2", "Bo Doe", "active")]
    assert [p[:2] for p in after_moves[1]] == [("C-1", "A-1"), ("C-3", "A-1")]

    # A backfill of an earlier interval re-reads the versions from before the moves, once with
    # Acme in Books and once with Bo's old account not (yet) there: neither lands.
    stage_individual(warehouse, "r3", "C-1", "Ann Older", T2)
    stage_person(warehouse, "r3", "C-2", "A-1", "Bo older", T2)
    load(warehouse, "r3", config.CONTACTS)
    assert (individuals(warehouse), persons(warehouse), held(warehouse)) == after_moves
    stage_person(warehouse, "r4", "C-2", "A-404", "Bo older", T2)
    load(warehouse, "r4", config.CONTACTS)
    assert (individuals(warehouse), persons(warehouse), held(warehouse)) == after_moves


def test_a_contact_that_moves_back_reactivates_its_kept_customer(warehouse: Engine) -> None:
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_individual(warehouse, "r1", "C-1", "Ann Doe", T1)
    load(warehouse, "r1")
    add_invoice(warehouse, customer_id(warehouse, "C-1"))
    stage_person(warehouse, "r2", "C-1", "A-1", "Ann", T2)
    load(warehouse, "r2", config.CONTACTS)
    assert individuals(warehouse) == [("C-1", "Ann Doe", "inactive")]

    stage_individual(warehouse, "r3", "C-1", "Ann Back", T3)
    load(warehouse, "r3", config.CONTACTS)
    assert individuals(warehouse) == [("C-1", "Ann Back", "active")]
    assert persons(warehouse) == []


def test_moves_keep_merged_customers_and_their_masters(warehouse: Engine) -> None:
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_individual(warehouse, "r1", "C-1", "Ann Doe", T1)
    stage_individual(warehouse, "r1", "C-2", "Ann Doe", T1)
    load(warehouse, "r1")
    master = customer_id(warehouse, "C-1")
    with warehouse.begin() as conn:  # C-2 was merged into C-1 (B6)
        conn.execute(
            text(
                "UPDATE books.customers SET status = 'inactive', merged_into_customer_id = :m"
                " WHERE crm_contact_id = 'C-2'"
            ),
            {"m": master},
        )

    # Both join Acme: the merged-away customer is never touched, and the master, which holds
    # what was merged into it, is kept inactive instead of deleted.
    stage_person(warehouse, "r2", "C-1", "A-1", "Ann", T2)
    stage_person(warehouse, "r2", "C-2", "A-1", "Annie", T2)
    load(warehouse, "r2", config.CONTACTS)
    assert individuals(warehouse) == [
        ("C-1", "Ann Doe", "inactive"),
        ("C-2", "Ann Doe", "inactive"),
    ]
    merged = rows(
        warehouse,
        "SELECT merged_into_customer_id FROM books.customers WHERE crm_contact_id = 'C-2'",
    )
    assert merged == [(master,)]
    assert [p[:2] for p in persons(warehouse)] == [("C-1", "A-1"), ("C-2", "A-1")]


def test_deletions_are_counted_on_the_module_the_deleted_record_came_from(
    warehouse: Engine,
) -> None:
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_account(warehouse, "r1", "A-2", "Globex")
    stage_person(warehouse, "r1", "C-1", "A-1", "Ann", T1)
    stage_individual(warehouse, "r1", "C-7", "Cy Doe", T1)
    load(warehouse, "r1")
    start_run_log(warehouse, "r2")
    with warehouse.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO books.stg_crm_deleted (run_id, module, crm_id, deleted_time)"
                " VALUES ('r2', 'Contacts', 'C-1', :t), ('r2', 'Contacts', 'C-7', :t),"
                " ('r2', 'Accounts', 'A-2', :t)"
            ),
            {"t": T2},
        )
    apply_deletions(warehouse, SyncRun(run_id="r2", modules=config.SYNC_MODULES))
    by_module = dict(
        (r[0], (int(r[1]), int(r[2])))
        for r in rows(
            warehouse,
            "SELECT module, deleted, inactivated FROM books.sync_runs WHERE run_id = 'r2'",
        )
    )
    # Globex on Accounts; Ann (a contact person) and Cy (an individual customer) on Contacts.
    assert by_module == {config.ACCOUNTS: (1, 0), config.CONTACTS: (2, 0)}


def stage_deletions(engine: Engine, run_id: str, *deleted: tuple[str, str]) -> None:
    """CRM deletions (module, CRM id) as the extract of ``run_id`` stages them."""
    with engine.begin() as conn:
        for module, crm_id in deleted:
            conn.execute(
                text(
                    "INSERT INTO books.stg_crm_deleted (run_id, module, crm_id, deleted_time)"
                    " VALUES (:r, :m, :c, :t)"
                ),
                {"r": run_id, "m": module, "c": crm_id, "t": T2},
            )


def deletions(engine: Engine, run_id: str, *deleted: tuple[str, str]) -> dict[str, int]:
    """A run whose extract staged these CRM deletions applies them; its counts."""
    start_run_log(engine, run_id)
    stage_deletions(engine, run_id, *deleted)
    return apply_deletions(engine, SyncRun(run_id=run_id, modules=config.SYNC_MODULES))


def test_each_run_applies_its_own_deletions_and_leaves_earlier_ones_as_they_were(
    warehouse: Engine,
) -> None:
    """apply_deletions works from the deletions its run recorded (issue 12): a later run with a
    deletion of its own neither counts nor rewrites what an earlier run's deletions did."""
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_account(warehouse, "r1", "A-2", "Globex")
    stage_individual(warehouse, "r1", "C-7", "Cy Doe", T1)
    load(warehouse, "r1")
    with warehouse.begin() as conn:  # Acme absorbed a merged customer: it has history
        conn.execute(
            text(
                "INSERT INTO books.customers (source, customer_sub_type, contact_name, status,"
                " merged_into_customer_id, created_at, updated_at)"
                " SELECT 'books', 'business', 'Acme old', 'inactive', customer_id, :now, :now"
                " FROM books.customers WHERE crm_account_id = 'A-1'"
            ),
            {"now": NOW},
        )
    sql = "SELECT status, crm_deleted_time FROM books.customers WHERE crm_account_id = 'A-1'"
    assert deletions(warehouse, "r2", ("Accounts", "A-1"), ("Contacts", "C-7")) == {
        "deleted": 1,
        "inactivated": 1,
        "contact_persons_removed": 0,
    }
    acme_after_r2 = rows(warehouse, sql)
    # r3 records no deletion; r4 sees A-1's again (the overlap window) and deletes A-2.
    assert deletions(warehouse, "r3") == dict.fromkeys(
        ("deleted", "inactivated", "contact_persons_removed"), 0
    )
    counts = deletions(warehouse, "r4", ("Accounts", "A-1"), ("Accounts", "A-2"))
    assert counts == {"deleted": 1, "inactivated": 0, "contact_persons_removed": 0}
    assert acme_after_r2[0][0] == "inactive" and acme_after_r2[0][1] is not None
    assert rows(warehouse, sql) == acme_after_r2
    left = rows(
        warehouse,
        "SELECT crm_account_id, crm_contact_id, status FROM books.customers"
        " WHERE source = 'crm' ORDER BY customer_id",
    )
    assert left == [("A-1", None, "inactive")]
    logged = rows(
        warehouse,
        "SELECT run_id, module, deleted, inactivated FROM books.sync_runs"
        " WHERE deleted > 0 OR inactivated > 0 ORDER BY run_id, module",
    )
    assert [(r[0], r[1], int(r[2]), int(r[3])) for r in logged] == [
        ("r2", config.ACCOUNTS, 0, 1),
        ("r2", config.CONTACTS, 1, 0),
        ("r4", config.ACCOUNTS, 1, 0),
    ]


def test_the_run_log_counts_contact_persons_apart_from_individual_customers(
    warehouse: Engine,
) -> None:
    """A Contacts row's inserted/updated/unchanged are the module's totals; the contact_persons_*
    columns say how many of them were contact persons (issue 16)."""
    start_run_log(warehouse, "r1")
    stage_account(warehouse, "r1", "A-1", "Acme")
    stage_person(warehouse, "r1", "C-1", "A-1", "Ann", T1)
    stage_person(warehouse, "r1", "C-2", "A-1", "Bo", T1)
    stage_individual(warehouse, "r1", "C-3", "Cy Doe", T1)
    load(warehouse, "r1")

    start_run_log(warehouse, "r2")
    stage_person(warehouse, "r2", "C-1", "A-1", "Annie", T2)  # newer: updated
    stage_person(warehouse, "r2", "C-2", "A-1", "Bo", T1)  # same version: unchanged
    stage_individual(warehouse, "r2", "C-3", "Cy Doe", T2)  # newer: updated
    stage_individual(warehouse, "r2", "C-4", "Di Doe", T2)  # new
    stage_account(warehouse, "r2", "A-1", "Acme")  # same version: unchanged
    load(warehouse, "r2")

    columns = (
        "inserted, updated, unchanged, contact_persons_inserted, contact_persons_updated,"
        " contact_persons_unchanged"
    )
    logged = {
        (r[0], r[1]): tuple(int(v) for v in r[2:])
        for r in rows(warehouse, f"SELECT run_id, module, {columns} FROM books.sync_runs")
    }
    assert logged == {
        ("r1", config.ACCOUNTS): (1, 0, 0, 0, 0, 0),
        ("r1", config.CONTACTS): (3, 0, 0, 2, 0, 0),
        ("r2", config.ACCOUNTS): (0, 0, 1, 0, 0, 0),
        ("r2", config.CONTACTS): (1, 2, 1, 0, 1, 1),
    }
