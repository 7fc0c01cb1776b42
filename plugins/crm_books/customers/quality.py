"""Quality gate: Great Expectations checks that split transformed frames into loadable rows and rejects."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from crm_books import config
from crm_books.customers.columns import (
    CONTACT_PERSON_COLUMNS,
    CUSTOMER_COLUMNS,
    MAX_LENGTHS,
    RAW_PAYLOAD,
    REJECT_COLUMNS,
)

SUB_TYPES = ("business", "individual")
MAX_ROWS = 5_000_000
# Below this many rows a few bad records say nothing about the batch as a whole.
MIN_ROWS_FOR_REJECT_FRACTION = 20
MAX_LISTED_DUPLICATES = 10
MAX_LISTED_REASONS = 3
_MAX_SHOWN_CHARS = 60

# One @, no whitespace, and a domain of at least two non-empty dot-separated labels. Any other
# character (unicode included) is allowed, as Zoho accepts internationalised addresses. \Z, not $:
# Python's "$" also matches before a final newline.
EMAIL_REGEX = r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+\Z"
_NOT_BLANK_REGEX = r"\S"

_POSITION = "crm_books_position"
# COMPLETE lists every failing row. GX reports rows by the frame's index, which the gate resets
# to row positions; naming index columns instead makes GX build a dict per failing row per
# expectation, which took minutes when a 1M-row batch was largely bad.
_RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False}


class QualityGateError(RuntimeError):
    """A frame failed a table-level expectation, so none of it may be loaded."""


@dataclass(frozen=True)
class QualityResult:
    """What the gate decided for one frame."""

    valid: pd.DataFrame
    rejects: pd.DataFrame
    table_errors: list[str] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no table-level expectation failed, so the valid rows may be loaded."""
        return not self.table_errors


@dataclass(frozen=True)
class _RowCheck:
    """One row-level expectation and how a failing row's reason reads."""

    expectation: Any
    column: str
    reason: Callable[[Any], str]
    # Counted under this label in the "top reasons" of a too-many-rejects error.
    label: str


def validate_customers(
    frame: pd.DataFrame, *, module: str, max_reject_fraction: float = 0.2
) -> QualityResult:
    """Check a transformed customers frame from the Accounts or Contacts module.

    :param frame: CUSTOMER_COLUMNS plus raw_payload, one row per CRM record.
    :param module: "Accounts" (business customers keyed by crm_account_id) or "Contacts"
        (individual customers keyed by crm_contact_id).
    :param max_reject_fraction: above this share of rejected rows (in batches of at least 20
        rows) the whole frame fails.
    """
    id_column = _id_column(module)
    return _validate(
        frame,
        module=module,
        what=f"{module} customers",
        expected_columns=(*CUSTOMER_COLUMNS, RAW_PAYLOAD),
        id_column=id_column,
        row_checks=lambda present: _customer_checks(id_column, present),
        max_reject_fraction=max_reject_fraction,
    )


def validate_contact_persons(
    frame: pd.DataFrame, *, max_reject_fraction: float = 0.2
) -> QualityResult:
    """Check a transformed contact-persons frame (CRM contacts that belong to an account).

    :param frame: CONTACT_PERSON_COLUMNS plus raw_payload, one row per CRM contact.
    :param max_reject_fraction: above this share of rejected rows (in batches of at least 20
        rows) the whole frame fails.
    """
    return _validate(
        frame,
        module=config.CONTACTS,
        what="contact persons",
        expected_columns=(*CONTACT_PERSON_COLUMNS, RAW_PAYLOAD),
        id_column="crm_contact_id",
        row_checks=_contact_person_checks,
        max_reject_fraction=max_reject_fraction,
    )


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


# --- reasons -----------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    """A value as it appears in a reason: quoted, and clipped so a 2,000-character note stays readable."""
    text = str(value)
    if len(text) > _MAX_SHOWN_CHARS:
        text = text[:_MAX_SHOWN_CHARS] + "…"
    return f"'{text}'"


def _missing(column: str) -> Callable[[Any], str]:
    return lambda _value: f"{column} is missing"


def _too_long(column: str, limit: int) -> Callable[[Any], str]:
    return lambda value: (
        f"{column} {_shown(value)} is {len(str(value)):,} characters long, "
        f"more than the {limit:,} allowed"
    )


def _bad_email(value: Any) -> str:
    return f"email {_shown(value)} is not a valid email address"


def _bad_sub_type(value: Any) -> str:
    return f"customer_sub_type {_shown(value)} is not one of {', '.join(SUB_TYPES)}"


# --- expectations --------------------------------------------------------------------------------


def _presence_checks(column: str) -> list[_RowCheck]:
    gxe = _gx().expectations
    label = f"{column} is missing"
    # Upstream turns blank strings into NULL; a blank that slips through is still missing.
    return [
        _RowCheck(
            gxe.ExpectColumnValuesToNotBeNull(column=column), column, _missing(column), label
        ),
        _RowCheck(
            gxe.ExpectColumnValuesToMatchRegex(column=column, regex=_NOT_BLANK_REGEX),
            column,
            _missing(column),
            label,
        ),
    ]


def _common_checks(present: Sequence[str]) -> list[_RowCheck]:
    """Email format, field lengths and modified time, for the columns the frame has."""
    gxe = _gx().expectations
    checks: list[_RowCheck] = []
    if "email" in present:
        label = "email is not a valid email address"
        checks.append(
            _RowCheck(
                gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL_REGEX),
                "email",
                _bad_email,
                label,
            )
        )
    for column in present:
        limit = MAX_LENGTHS.get(column)
        if limit is not None:
            checks.append(
                _RowCheck(
                    gxe.ExpectColumnValueLengthsToBeBetween(column=column, max_value=limit),
                    column,
                    _too_long(column, limit),
                    f"{column} is too long",
                )
            )
    if "crm_modified_time" in present:
        checks.append(
            _RowCheck(
                gxe.ExpectColumnValuesToNotBeNull(column="crm_modified_time"),
                "crm_modified_time",
                _missing("crm_modified_time"),
                "crm_modified_time is missing",
            )
        )
    return checks


def _customer_checks(id_column: str, present: Sequence[str]) -> list[_RowCheck]:
    gxe = _gx().expectations
    checks: list[_RowCheck] = []
    for column in (id_column, "contact_name"):
        if column in present:
            checks += _presence_checks(column)
    if "customer_sub_type" in present:
        checks += [
            _RowCheck(
                gxe.ExpectColumnValuesToNotBeNull(column="customer_sub_type"),
                "customer_sub_type",
                _missing("customer_sub_type"),
                "customer_sub_type is missing",
            ),
            _RowCheck(
                gxe.ExpectColumnValuesToBeInSet(column="customer_sub_type", value_set=SUB_TYPES),
                "customer_sub_type",
                _bad_sub_type,
                "customer_sub_type is not business or individual",
            ),
        ]
    return checks + _common_checks(present)


def _contact_person_checks(present: Sequence[str]) -> list[_RowCheck]:
    gx = _gx()
    checks: list[_RowCheck] = []
    if "crm_contact_id" in present:
        checks += _presence_checks("crm_contact_id")
    if "first_name" in present and "last_name" in present:
        # A person needs some name: first_name is required exactly where last_name is absent.
        label = "first_name and last_name are both missing"
        checks.append(
            _RowCheck(
                gx.expectations.ExpectColumnValuesToNotBeNull(
                    column="first_name",
                    row_condition=gx.expectations.row_conditions.Column("last_name").is_null(),
                ),
                "first_name",
                lambda _value: label,
                label,
            )
        )
    return checks + _common_checks(present)


def _table_expectations(
    expected_columns: Sequence[str], id_column: str, present: bool
) -> list[Any]:
    gxe = _gx().expectations
    expectations = [
        gxe.ExpectTableColumnsToMatchSet(column_set=list(expected_columns), exact_match=False),
        gxe.ExpectTableRowCountToBeBetween(min_value=0, max_value=MAX_ROWS),
    ]
    if present:
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column=id_column))
    return expectations


# --- GX engine -----------------------------------------------------------------------------------


@cache
def _gx() -> Any:
    """The great_expectations module, imported on first use: the import alone takes seconds."""
    # Offline product: no usage statistics leave the machine.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations

    return great_expectations


@cache
def _batch_definition() -> Any:
    """One ephemeral context per process, with a pandas asset any frame can be validated through."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints (hashes every value of) each frame under HASH_THRESHOLD bytes, only to label
    # the batch; an ephemeral context never stores the label. Frames above it skip the hash, as
    # every frame does with a threshold of 0: about 15 % of the gate's CPU.
    pandas_execution_engine.HASH_THRESHOLD = 0

    context = gx.get_context(mode="ephemeral")
    # Progress bars would flood the Airflow task log.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas("crm_books_quality").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def _run_suite(frame: pd.DataFrame, expectations: Sequence[Any]) -> list[Any]:
    """Validate the frame against the expectations; results come back in the same order."""
    gx = _gx()
    from great_expectations.validator.v1_validator import Validator

    # Unsaved expectations have no id, so each carries its position to find its result by.
    for position, expectation in enumerate(expectations):
        expectation.meta = {**(expectation.meta or {}), _POSITION: position}
    suite = gx.ExpectationSuite(name="crm_books_quality", expectations=list(expectations))
    batch_definition = _batch_definition()
    engine = batch_definition.data_asset.datasource.get_execution_engine()
    try:
        # What Batch.validate runs, without first loading (and fingerprinting) the frame once more.
        validator = Validator(
            batch_definition=batch_definition,
            batch_parameters={"dataframe": frame},
            result_format=_RESULT_FORMAT,
        )
        outcome: Any = validator.validate_expectation_suite(suite)
    finally:
        # The data source's engine keeps every batch it loaded, frames included.
        engine.batch_manager.reset_batch_cache()
    by_position = {result.expectation_config.meta[_POSITION]: result for result in outcome.results}
    return [by_position[position] for position in range(len(expectations))]


def _raised(result: Any) -> str | None:
    """The message of an exception GX caught while evaluating an expectation, if any."""
    info = result.exception_info or {}
    candidates = [info] if "raised_exception" in info else list(info.values())
    for item in candidates:
        if isinstance(item, dict) and item.get("raised_exception"):
            return str(item.get("exception_message") or "unknown error")
    return None


def _failing_rows(result: Any) -> list[int]:
    """Row positions an expectation flagged (GX reports them by the frame's RangeIndex)."""
    return [int(position) for position in result.result.get("unexpected_index_list") or []]


# --- the gate ------------------------------------------------------------------------------------


def _validate(
    frame: pd.DataFrame,
    *,
    module: str,
    what: str,
    expected_columns: Sequence[str],
    id_column: str,
    row_checks: Callable[[Sequence[str]], list[_RowCheck]],
    max_reject_fraction: float,
) -> QualityResult:
    if not 0 <= max_reject_fraction <= 1:
        raise ValueError(f"max_reject_fraction must be between 0 and 1, not {max_reject_fraction}")
    checked = frame.reset_index(drop=True)
    present = [column for column in expected_columns if column in checked.columns]
    checks = row_checks(present)
    table = _table_expectations(expected_columns, id_column, id_column in present)
    results = _run_suite(
        _gx_view(checked, present), [*table, *(check.expectation for check in checks)]
    )
    table_results, row_results = results[: len(table)], results[len(table) :]

    errors = [
        error
        for result in table_results
        if (error := _table_error(result, what=what, id_column=id_column)) is not None
    ]
    reasons: dict[int, list[str]] = {}
    labels: dict[int, list[str]] = {}
    for check, result in zip(checks, row_results, strict=True):
        if (message := _raised(result)) is not None:
            errors.append(f"The {check.column} check of the {what} could not run: {message}.")
            continue
        positions = _failing_rows(result)
        # Only the failing values: converting a whole datetime column to objects takes seconds.
        values = checked[check.column].iloc[positions].tolist()
        for position, value in zip(positions, values, strict=True):
            reason = check.reason(value)
            row_reasons = reasons.setdefault(position, [])
            # Two expectations on one field (format and whitespace) give the same reason once.
            if reason not in row_reasons:
                row_reasons.append(reason)
                labels.setdefault(position, []).append(check.label)

    rejected = np.zeros(len(checked), dtype=bool)
    rejected[list(reasons)] = True
    errors += _reject_fraction_errors(labels, len(checked), max_reject_fraction, what)
    rejects = _rejects_frame(checked, reasons, module=module, id_column=id_column)
    valid = checked.loc[~rejected].reset_index(drop=True)
    return QualityResult(
        valid=valid,
        rejects=rejects,
        table_errors=errors,
        summary={
            "checked": len(checked),
            "valid": len(valid),
            "rejected": len(rejects),
            "table_errors": len(errors),
        },
    )


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
    if (message := _raised(result)) is not None:
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
        shown = ", ".join(_shown(v) for v in duplicates[:MAX_LISTED_DUPLICATES])
        more = len(duplicates) - MAX_LISTED_DUPLICATES
        suffix = f" and {more:,} more" if more > 0 else ""
        return (
            f"The {what} frame has {len(duplicates):,} {id_column} value(s) on more than one row "
            f"(each CRM record must appear once): {shown}{suffix}."
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
