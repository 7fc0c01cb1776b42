"""B6: record groups of likely duplicate customers.

The match keys of every active customer are kept in books.duplicate_match_keys, with the fields
they were computed from. A run keys only the customers whose fields changed (or that are new)
and regroups only the keys those customers hold; the other groups can only have lost members
since the last run, which flags nothing. A first run (no keys stored) or a full refresh groups
every active customer at once, as before.
"""

from __future__ import annotations

import logging
from itertools import repeat
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from crm_books.customers.plan import SyncRun
from crm_books.warehouse.bulk import CustomerKey, bulk_insert, foreign_key_checked_after
from crm_books.warehouse.engine import locked_transaction
from crm_books.warehouse.sql_files import count_returned, run_sql
from crm_books.warehouse.timestamps import db_now

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

_FIELDS = ("contact_name", "company_name", "email", "phone", "website")
_KINDS = ("name", "email", "phone", "website")
# Stale keys dropped per statement: SQLite binds each id of a list as its own parameter.
_DELETE_BATCH = 10_000
_KEY_COLUMNS = ("customer_id", *_FIELDS, *(f"{kind}_key" for kind in _KINDS))
_CANDIDATE_COLUMNS = (
    "group_key",
    "customer_id",
    "match_reason",
    "first_flagged_run_id",
    "status",
    "flagged_at",
)
_CANDIDATE_CUSTOMER = CustomerKey("duplicate_candidates", "duplicate_candidates_customer_id_fkey")


def flag_duplicates(engine: Engine, run: SyncRun) -> dict[str, int]:
    """B6: record groups of likely duplicate customers; nothing is merged or deleted."""
    # Imported here: pandas and the matching rules are only needed by this task.
    from crm_books.customers.duplicates import unflagged

    # Under the warehouse lock from the read on: groups computed from customers that another run
    # changes meanwhile would flag what one run after the other would not.
    with locked_transaction(engine, "flag_duplicates") as conn:
        if run.full_refresh:
            run_sql(conn, "duplicates/delete_match_keys")
        regroup_all = not run_sql(conn, "duplicates/count_match_keys").scalar()
        changed = _changed_customers(conn)
        if regroup_all:
            groups, flagged = _group_all(conn, changed)
        else:
            groups, flagged = _group_touched(conn, run, changed)
        # Only pairs not flagged yet are staged (after the first run, next to none);
        # insert_candidates still skips any flagged in the meantime.
        new = unflagged(groups, flagged)
        newly = _insert_candidates(conn, run, new) if len(new) else 0
        run_sql(
            conn,
            "sync/update_sync_run_flagged",
            {"run_id": run.run_id, "module": run.modules[0], "flagged": newly},
        )
    log.info(
        "duplicates: %d customers (re)keyed, %s; %d customers in %d likely-duplicate groups"
        " regrouped, %d newly flagged",
        len(changed),
        "every group recomputed" if regroup_all else "only the groups of their keys recomputed",
        len(groups),
        groups["group_key"].nunique() if len(groups) else 0,
        newly,
    )
    return {"rekeyed": len(changed), "in_groups": len(groups), "newly_flagged": newly}


def _changed_customers(conn: Connection) -> pd.DataFrame:
    """Drop the stored keys that no longer describe an active customer as it is; the active
    customers to key (again): new ones and those whose match fields changed. One pass over
    customers and keys (select_changed_customers)."""
    result = run_sql(conn, "duplicates/select_changed_customers")
    columns, rows = list(result.keys()), result.cursor.fetchall()
    stale = [row[0] for row in rows if row[0] is not None]
    for start in range(0, len(stale), _DELETE_BATCH):
        batch = stale[start : start + _DELETE_BATCH]
        run_sql(conn, "duplicates/delete_match_keys_of", {"customer_ids": batch})
    changed = _frame(columns, rows).drop(columns="keyed_customer_id")
    if stale:  # rows of stale keys alone carry no customer
        changed = changed[changed["customer_id"].notna()].reset_index(drop=True)
    return changed


def _group_all(conn: Connection, customers: pd.DataFrame) -> tuple[pd.DataFrame, list[Any]]:
    """No keys stored: ``customers`` is every active customer; group them all, store their keys."""
    from crm_books.customers.duplicates import groups_of_columns, key_columns

    columns = key_columns(customers)
    _store_keys(conn, customers, columns)
    run_sql(conn, "duplicates/analyze_match_keys")
    groups = groups_of_columns(customers["customer_id"], columns)
    return groups, run_sql(conn, "duplicates/select_candidate_pairs").cursor.fetchall()


def _group_touched(
    conn: Connection, run: SyncRun, changed: pd.DataFrame
) -> tuple[pd.DataFrame, list[Any]]:
    """Store the changed customers' keys; regroup every customer holding one of those keys."""
    from crm_books.customers.duplicates import groups_of_keys, key_columns, match_keys

    params = {"run_id": run.run_id}
    columns = key_columns(changed)
    _store_keys(conn, changed, columns)
    touched = {
        (kind, key) for kind, keys in match_keys(columns).items() for key in keys if key is not None
    }
    if not touched:
        return groups_of_keys(_frame(["customer_id"], []), set()), []
    bulk_insert(
        conn,
        "stg_duplicate_keys",
        ("run_id", "kind", "match_key"),
        ((run.run_id, kind, key) for kind, key in sorted(touched)),
    )
    run_sql(conn, "duplicates/analyze_touched_keys")
    result = run_sql(conn, "duplicates/select_touched_members", params)
    members = _frame(list(result.keys()), result.cursor.fetchall())
    groups = groups_of_keys(members, {f"{kind}:{key}" for kind, key in touched})
    flagged = run_sql(conn, "duplicates/select_touched_candidate_pairs", params).cursor.fetchall()
    run_sql(conn, "duplicates/delete_touched_keys", params)
    return groups, flagged


def _store_keys(conn: Connection, customers: pd.DataFrame, columns: Any) -> None:
    """Copy the customers' match fields and keys into books.duplicate_match_keys."""
    from crm_books.customers.duplicates import match_keys

    if customers.empty:
        return
    keys = match_keys(columns)
    values = [customers["customer_id"].tolist()]
    values += [customers[field].tolist() for field in _FIELDS]
    values += [keys[kind] for kind in _KINDS]
    bulk_insert(conn, "duplicate_match_keys", _KEY_COLUMNS, zip(*values, strict=True))


def _frame(columns: list[str], rows: list[Any]) -> pd.DataFrame:
    """Rows read from the warehouse as a frame (plain DB-API tuples: a frame built from
    SQLAlchemy rows cost more than the grouping)."""
    from crm_books.customers.duplicates import customers_frame

    frame = customers_frame(columns, rows)
    for name in set(_KEY_COLUMNS) - set(frame.columns):
        frame[name] = None
    return frame


def _insert_candidates(conn: Connection, run: SyncRun, new: pd.DataFrame) -> int:
    """Insert the new pairs as open candidates; how many were inserted. A first flagging (no
    candidates yet, every pair is new) copies them straight in; later ones go through staging
    and insert_candidates, which leaves out any pair flagged already."""
    columns = [new["group_key"].tolist(), new["customer_id"].tolist(), new["match_reason"].tolist()]
    with foreign_key_checked_after(conn, _CANDIDATE_CUSTOMER, len(new)) as first_import:
        if first_import:  # all of them are new: as insert_candidates would write them
            flagged = (run.run_id, "open", db_now())
            return bulk_insert(
                conn,
                "duplicate_candidates",
                _CANDIDATE_COLUMNS,
                ((*pair, *flagged) for pair in zip(*columns, strict=True)),
            )
        bulk_insert(
            conn,
            "stg_duplicate_candidates",
            ("run_id", "group_key", "customer_id", "match_reason"),
            zip(repeat(run.run_id), *columns),
        )
        run_sql(conn, "duplicates/analyze_candidates")
        params = {"run_id": run.run_id, "now": db_now()}
        return count_returned(conn, "duplicates/insert_candidates", params)["flagged"]
