"""Quality gate: Great Expectations checks that split transformed frames into loadable rows and rejects."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_books import config
from crm_books.customers.columns import (
    CONTACT_PERSON_COLUMNS,
    CUSTOMER_COLUMNS,
    RAW_PAYLOAD,
    REJECT_COLUMNS,
)
from crm_books.customers.gx_suite import failing_rows, gx, raised, run_suite
from crm_books.customers.quality_checks import (
    RowCheck,
    contact_person_checks,
    customer_checks,
    shown,
)
from crm_books.customers.quality_report import ExpectationOutcome, outcomes

MAX_ROWS = 5_000_000
# Below this many rows a few bad records say nothing about the batch as a whole.
MIN_ROWS_FOR_REJECT_FRACTION = 20
MAX_LISTED_DUPLICATES = 10
MAX_LISTED_REASONS = 3


class QualityGateError(RuntimeError):
    """A frame failed a table-level expectation, so none of it may be loaded."""


@dataclass(frozen=True)
class QualityResult:
    """What the gate decided for one frame."""

    valid: pd.DataFrame
    rejects: pd.DataFrame
    table_errors: list[str] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    # Every expectation that ran and how many rows failed it (books.quality_results).
    expectations: tuple[ExpectationOutcome, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no table-level expectation failed, so the valid rows may be loaded."""
        return not self.table_errors


@dataclass(frozen=True)
class _Frame:
    """What is checked: the frame's name in messages, its contract and the module it came from."""

    module: str
    what: str
    expected_columns: tuple[str, ...]
    id_column: str
    row_checks: Callable[[Sequence[str]], list[RowCheck]]


def validate_customers(
    frame: pd.DataFrame,
    *,
    module: str,
    max_reject_fraction: float = 0.2,
    rows_checked: int | None = None,
) -> QualityResult:
    """Check a transformed customers frame from the Accounts or Contacts module.

    :param frame: CUSTOMER_COLUMNS plus raw_payload, one row per CRM record.
    :param module: "Accounts" (business customers keyed by crm_account_id) or "Contacts"
        (individual customers keyed by crm_contact_id).
    :param max_reject_fraction: above this share of rejected rows (in batches of at least 20
        rows) the whole frame fails.
    :param rows_checked: the rows of the batch when ``frame`` holds only its screened rows (the
        gate's SQL screen, validate.py): the reject fraction and the summary count these.
    """
    id_column = _id_column(module)
    kind = _Frame(
        module=module,
        what=f"{module} customers",
        expected_columns=(*CUSTOMER_COLUMNS, RAW_PAYLOAD),
        id_column=id_column,
        row_checks=lambda present: customer_checks(id_column, present),
    )
    return _validate(frame, kind, max_reject_fraction, rows_checked)


def validate_contact_persons(
    frame: pd.DataFrame, *, max_reject_fraction: float = 0.2, rows_checked: int | None = None
) -> QualityResult:
    """Check a transformed contact-persons frame (CRM contacts that belong to an account).

    :param frame: CONTACT_PERSON_COLUMNS plus raw_payload, one row per CRM contact.
    :param max_reject_fraction: above this share of rejected rows (in batches of at least 20
        rows) the whole frame fails.
    :param rows_checked: as for validate_customers.
    """
    kind = _Frame(
        module=config.CONTACTS,
        what="contact persons",
        expected_columns=(*CONTACT_PERSON_COLUMNS, RAW_PAYLOAD),
        id_column="crm_contact_id",
        row_checks=contact_person_checks,
    )
    return _validate(frame, kind, max_reject_fraction, rows_checked)


def enforce(result: QualityResult) -> None:
    """Raise QualityGateError listing every table-level failure, so the task fails and loads nothing."""
    if not result.ok:
        raise QualityGateError(
            "Quality gate failed, nothing was loaded: " + " ".join(result.table_errors)
        )


def _id_column(module: str) -> str:
    if module == config.ACCOUNTS:
        return "crm_account_id"
    if module == config.CONTACTS:
        return "crm_contact_id"
    raise ValueError(f"module must be {config.ACCOUNTS!r} or {config.CONTACTS!r}, not {module!r}")


def _table_expectations(
    expected_columns: Sequence[str], id_column: str, present: bool
) -> list[Any]:
    gxe = gx().expectations
    expectations = [
        gxe.ExpectTableColumnsToMatchSet(column_set=list(expected_columns), exact_match=False),
        gxe.ExpectTableRowCountToBeBetween(min_value=0, max_value=MAX_ROWS),
    ]
    if present:
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column=id_column))
    return expectations


# --- the gate ------------------------------------------------------------------------------------


def _validate(
    frame: pd.DataFrame, kind: _Frame, max_reject_fraction: float, rows_checked: int | None
) -> QualityResult:
    if not 0 <= max_reject_fraction <= 1:
        raise ValueError(f"max_reject_fraction must be between 0 and 1, not {max_reject_fraction}")
    total = len(frame) if rows_checked is None else rows_checked
    if total < len(frame):
        raise ValueError(f"rows_checked ({total}) is less than the frame's {len(frame)} rows")
    checked = frame.reset_index(drop=True)
    present = [column for column in kind.expected_columns if column in checked.columns]
    checks = kind.row_checks(present)
    table = _table_expectations(kind.expected_columns, kind.id_column, kind.id_column in present)
    results = run_suite(
        _gx_view(checked, present), [*table, *(check.expectation for check in checks)]
    )
    errors = [
        error
        for result in results[: len(table)]
        if (error := _table_error(result, what=kind.what, id_column=kind.id_column)) is not None
    ]
    reasons, labels = _row_reasons(checked, checks, results[len(table) :], kind.what, errors)
    rejected = np.zeros(len(checked), dtype=bool)
    rejected[list(reasons)] = True
    errors += _reject_fraction_errors(labels, total, max_reject_fraction, kind.what)
    rejects = _rejects_frame(checked, reasons, module=kind.module, id_column=kind.id_column)
    valid = checked.loc[~rejected].reset_index(drop=True)
    return QualityResult(
        valid=valid,
        rejects=rejects,
        table_errors=errors,
        summary={
            "checked": total,
            "valid": total - len(rejects),
            "rejected": len(rejects),
            "table_errors": len(errors),
        },
        expectations=outcomes(results),
    )


def _row_reasons(
    checked: pd.DataFrame,
    checks: Sequence[RowCheck],
    results: Sequence[Any],
    what: str,
    errors: list[str],
) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Per failing row position, its reasons and their labels; a check that could not run is
    added to ``errors``."""
    reasons: dict[int, list[str]] = {}
    labels: dict[int, list[str]] = {}
    for check, result in zip(checks, results, strict=True):
        if (message := raised(result)) is not None:
            errors.append(f"The {check.column} check of the {what} could not run: {message}.")
            continue
        positions = failing_rows(result)
        # Only the failing values: converting a whole datetime column to objects takes seconds.
        values = checked[check.column].iloc[positions].tolist()
        for position, value in zip(positions, values, strict=True):
            reason = check.reason(value)
            row_reasons = reasons.setdefault(position, [])
            # Two expectations on one field (format and whitespace) give the same reason once.
            if reason not in row_reasons:
                row_reasons.append(reason)
                labels.setdefault(position, []).append(check.label)
    return reasons, labels


def _gx_view(checked: pd.DataFrame, present: Sequence[str]) -> pd.DataFrame:
    """The frame as GX sees it: the expected columns, indexed by row position.

    GX fingerprints (hashes) every frame it loads. No expectation reads the raw JSON, and hashing
    kilobytes of it per row would cost more than all the checks, so GX gets a flag for whether the
    payload is there under the same name instead.
    """
    view = checked[list(present)]
    if RAW_PAYLOAD in present:
        view = view.assign(**{RAW_PAYLOAD: checked[RAW_PAYLOAD].notna()})
    return view


def _table_error(result: Any, *, what: str, id_column: str) -> str | None:
    """A sentence for a failed table-level expectation, or None when it passed."""
    kind = result.expectation_config.type
    if (message := raised(result)) is not None:
        return f"The {kind} check of the {what} could not run: {message}."
    if result.success:
        return None
    details = result.result
    if kind == "expect_table_columns_to_match_set":
        missing = details.get("details", {}).get("mismatched", {}).get("missing", [])
        return f"The {what} frame is missing column(s): {', '.join(missing)}."
    if kind == "expect_table_row_count_to_be_between":
        return (
            f"The {what} frame has {details.get('observed_value'):,} rows, "
            f"more than the {MAX_ROWS:,} a single batch may hold."
        )
    if kind == "expect_column_values_to_be_unique":
        duplicates = list(dict.fromkeys(str(v) for v in details.get("unexpected_list") or []))
        listed = ", ".join(shown(v) for v in duplicates[:MAX_LISTED_DUPLICATES])
        more = len(duplicates) - MAX_LISTED_DUPLICATES
        suffix = f" and {more:,} more" if more > 0 else ""
        return (
            f"The {what} frame has {len(duplicates):,} {id_column} value(s) on more than one row "
            f"(each CRM record must appear once): {listed}{suffix}."
        )
    return f"The {what} frame failed {kind}."


def _reject_fraction_errors(
    labels: dict[int, list[str]], checked: int, max_fraction: float, what: str
) -> list[str]:
    if checked < MIN_ROWS_FOR_REJECT_FRACTION or len(labels) / checked <= max_fraction:
        return []
    counts = Counter(label for row_labels in labels.values() for label in row_labels)
    top = ", ".join(f"{label} ({n:,})" for label, n in counts.most_common(MAX_LISTED_REASONS))
    return [
        f"{len(labels):,} of {checked:,} {what} rows ({len(labels) / checked:.1%}) failed row "
        f"checks, more than the {max_fraction:.0%} allowed; top reasons: {top}."
    ]


def _rejects_frame(
    checked: pd.DataFrame, reasons: dict[int, list[str]], *, module: str, id_column: str
) -> pd.DataFrame:
    positions = sorted(reasons)
    rows = checked.iloc[positions]
    return pd.DataFrame(
        {
            "module": [module] * len(positions),
            "crm_id": _nullable(rows, id_column),
            "reason": ["; ".join(reasons[p]) for p in positions],
            RAW_PAYLOAD: _nullable(rows, RAW_PAYLOAD),
        },
        columns=list(REJECT_COLUMNS),
        dtype=object,
    )


def _nullable(rows: pd.DataFrame, column: str) -> list[Any]:
    """A column's values with every kind of missing (NaN, NA, None, absent column) as None."""
    if column not in rows.columns:
        return [None] * len(rows)
    values = rows[column].astype(object)
    return values.where(values.notna(), None).tolist()
