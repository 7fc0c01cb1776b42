"""flag_duplicates on a real warehouse (both backends): what a run flags is what regrouping every
active customer from scratch would add, on a first run and on later runs after all kinds of change.
A later run regroups only the groups its changed customers are in (issue 16), and a full refresh
afterwards, which regroups every customer, finds nothing left to flag."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from crm_books.customers.duplicates import find_duplicate_groups
from crm_books.customers.duplicates_flag import flag_duplicates
from crm_books.customers.plan import SyncRun

NOW = datetime(2026, 3, 1, tzinfo=UTC)
Pair = tuple[str, int]


def add_customer(conn: Any, name: str, **fields: Any) -> int:
    row = {
        "contact_name": name,
        "company_name": None,
        "email": None,
        "phone": None,
        "website": None,
    }
    row.update(fields)
    return int(
        conn.execute(
            text(
                "INSERT INTO books.customers (source, customer_sub_type, contact_name, company_name,"
                " email, phone, website, status, created_at, updated_at)"
                " VALUES ('books', 'business', :contact_name, :company_name, :email, :phone, :website,"
                " 'active', :now, :now) RETURNING customer_id"
            ),
            {**row, "now": NOW},
        ).scalar_one()
    )


def candidates(engine: Engine) -> dict[Pair, tuple[str, str, str]]:
    """(group_key, customer_id) -> (match_reason, status, first_flagged_run_id)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT group_key, customer_id, match_reason, status, first_flagged_run_id"
                " FROM books.duplicate_candidates"
            )
        )
        return {(r[0], int(r[1])): (r[2], r[3], r[4]) for r in rows}


def regroup_from_scratch(engine: Engine) -> dict[Pair, str]:
    """Every pair a full regroup of the active customers finds, with its reason."""
    with engine.connect() as conn:
        frame = pd.read_sql(
            text(
                "SELECT customer_id, contact_name, company_name, email, phone, website"
                " FROM books.customers WHERE status = 'active' AND merged_into_customer_id IS NULL"
            ),
            conn,
        )
    groups = find_duplicate_groups(frame.astype(object).where(frame.notna(), None))
    return {
        (g, int(c)): r
        for g, c, r in groups[["group_key", "customer_id", "match_reason"]].itertuples(index=False)
    }


def run_and_check(
    engine: Engine, run_id: str, changed: set[int] | None = None, *, full_refresh: bool = False
) -> dict[str, int]:
    """One run; the table must then hold what it held before plus every pair a full regroup finds
    that was not flagged yet, new ones open and stamped with this run, old ones untouched.

    ``changed``: the customers created or edited since the last run (None: every customer, a
    first run); the run must regroup exactly the full regroup's groups that one of them is in."""
    before = candidates(engine)
    expected_new = {p: r for p, r in regroup_from_scratch(engine).items() if p not in before}
    result = flag_duplicates(engine, SyncRun(run_id=run_id, full_refresh=full_refresh))
    after = candidates(engine)
    assert {p: v for p, v in after.items() if p in before} == before
    assert {p: v for p, v in after.items() if p not in before} == {
        p: (r, "open", run_id) for p, r in expected_new.items()
    }
    assert result["newly_flagged"] == len(expected_new)
    regrouped = regroup_from_scratch(engine)
    if changed is not None:
        touched = {g for g, c in regrouped if c in changed}
        regrouped = {p: r for p, r in regrouped.items() if p[0] in touched}
        assert result["rekeyed"] == len(changed)
    assert result["in_groups"] == len(regrouped)
    return result


def test_first_and_later_runs_flag_what_a_full_regroup_adds(warehouse: Engine) -> None:
    with warehouse.begin() as conn:
        acme = add_customer(conn, "Acme Corp", company_name="Acme Corp", phone="+1 555 010 0200")
        add_customer(conn, "ACME, Inc.", company_name="ACME, Inc.", email="ops@acme.com")
        lone = add_customer(conn, "Zenith Labs", email="hello@zenith.io", website="zenith.io")
        quiet = add_customer(conn, "Orbit Ltd", phone="555 777 8888")
        gone = add_customer(conn, "Gamma GmbH", website="https://gamma.de/about")
        add_customer(conn, "Gamma AG", website="www.gamma.de")
    first = run_and_check(warehouse, "run-1")
    assert first["newly_flagged"] == 6  # name:acme, name:gamma, website:gamma.de: two each

    with warehouse.begin() as conn:
        # A person dismisses a candidate; a customer leaves its group; another is merged away.
        conn.execute(
            text(
                "UPDATE books.duplicate_candidates SET status = 'dismissed'"
                " WHERE group_key = 'name:acme' AND customer_id = :c"
            ),
            {"c": acme},
        )
        conn.execute(
            text("UPDATE books.customers SET company_name = 'Acme Rockets' WHERE customer_id = :c"),
            {"c": acme},
        )
        conn.execute(
            text(
                "UPDATE books.customers SET status = 'inactive', merged_into_customer_id = :m"
                " WHERE customer_id = :c"
            ),
            {"c": gone, "m": lone},
        )
        # Unchanged customers gain partners: a new customer, and an edited one.
        laboratories = add_customer(conn, "Zenith Laboratories", email=" Hello@Zenith.io ")
        conn.execute(
            text(
                "UPDATE books.customers SET phone = '(555) 777-8888 ext. 4' WHERE customer_id = :c"
            ),
            {"c": acme},
        )
    second = run_and_check(warehouse, "run-2", {acme, laboratories})
    assert second["newly_flagged"] == 4  # email:hello@zenith.io x2, phone:5557778888 (acme, quiet)
    assert candidates(warehouse)[("phone:5557778888", quiet)][2] == "run-2"

    third = run_and_check(warehouse, "run-3", set())
    assert third == {"rekeyed": 0, "in_groups": 0, "newly_flagged": 0}
    # A full refresh regroups every customer from scratch: nothing was left unflagged.
    fourth = run_and_check(warehouse, "run-4", full_refresh=True)
    assert fourth["newly_flagged"] == 0


def test_a_run_over_a_warehouse_without_duplicates_flags_nothing(warehouse: Engine) -> None:
    assert run_and_check(warehouse, "run-1") == {"rekeyed": 0, "in_groups": 0, "newly_flagged": 0}
    with warehouse.begin() as conn:
        solo = add_customer(conn, "Solo Inc", phone="555 123 4567")
    assert run_and_check(warehouse, "run-2", {solo}) == {
        "rekeyed": 1,
        "in_groups": 0,
        "newly_flagged": 0,
    }


NAMES = ("Acme Corp", "ACME, Inc.", "Zenith Labs", "Orbit Ltd", "Orbit Limited", "Gamma GmbH", None)
EMAILS = ("ops@acme.com", "OPS@acme.com ", "hello@zenith.io", "info@gmail.com", None, None)
PHONES = ("+1 555 010 0200", "555 010 0200", "(555) 777-8888 ext. 4", "555 777 8888", "12", None)
SITES = ("https://gamma.de/about", "www.gamma.de", "gmail.com", "zenith.io", "n/a", None, None)


def random_fields(rng: random.Random) -> dict[str, Any]:
    return {
        "company_name": rng.choice(NAMES),
        "email": rng.choice(EMAILS),
        "phone": rng.choice(PHONES),
        "website": rng.choice(SITES),
    }


def change_customers(conn: Any, rng: random.Random, ids: list[int]) -> set[int]:
    """Edits, new customers, customers leaving (inactive, merged, deleted) and coming back; the
    ids of those created, edited or made active again."""
    changed: set[int] = set()
    for cid in rng.sample(ids, 6):
        field, value = rng.choice(list(random_fields(rng).items()))
        old = conn.execute(
            text(f"SELECT {field}, status FROM books.customers WHERE customer_id = :c"), {"c": cid}
        ).one()
        conn.execute(
            text(f"UPDATE books.customers SET {field} = :v WHERE customer_id = :c"),
            {"v": value, "c": cid},
        )
        if old[0] != value and old[1] == "active":
            changed.add(cid)
    leaving = rng.sample(sorted(set(ids) - changed), 3)
    conn.execute(
        text("UPDATE books.customers SET status = 'inactive' WHERE customer_id = :c"),
        {"c": leaving[0]},
    )
    conn.execute(
        text(
            "UPDATE books.customers SET status = 'inactive', merged_into_customer_id = :m"
            " WHERE customer_id = :c"
        ),
        {"c": leaving[1], "m": leaving[2]},
    )
    back = (
        conn.execute(
            text(
                "SELECT customer_id FROM books.customers"
                " WHERE status = 'inactive' AND merged_into_customer_id IS NULL AND customer_id <> :c"
            ),
            {"c": leaving[0]},
        )
        .scalars()
        .all()
    )
    for cid in back[:1]:
        conn.execute(
            text("UPDATE books.customers SET status = 'active' WHERE customer_id = :c"), {"c": cid}
        )
        changed.add(int(cid))
    for n in range(4):
        cid = add_customer(conn, f"New {n}", **random_fields(rng))
        ids.append(cid)
        changed.add(cid)
    return changed


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_runs_flag_what_full_recomputes_flag(warehouse: Engine, seed: int) -> None:
    """A first (full) run, then incremental runs after random changes: each flags what a full
    regroup adds, and a full refresh at the end finds nothing they missed."""
    rng = random.Random(seed)
    with warehouse.begin() as conn:
        ids = [add_customer(conn, f"Customer {n}", **random_fields(rng)) for n in range(40)]
    first = run_and_check(warehouse, "run-0")
    assert first["newly_flagged"] > 0
    for round_ in range(1, 4):
        with warehouse.begin() as conn:
            changed = change_customers(conn, rng, ids)
        run_and_check(warehouse, f"run-{round_}", changed)
    flagged = candidates(warehouse)
    assert run_and_check(warehouse, "run-full", full_refresh=True)["newly_flagged"] == 0
    assert candidates(warehouse) == flagged
