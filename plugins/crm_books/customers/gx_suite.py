"""Great Expectations engine of the quality gate: run a suite over a frame, read the results."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from functools import cache
from typing import Any

import pandas as pd

# GX logs at INFO while it imports (some 200 "Skipping registering function ... because it is a
# closure" lines) and while it builds its context and validates; in a task log that buries the
# gate's own lines. Its warnings and errors still show.
GX_LOG_LEVEL = logging.WARNING
_GX_LOGGER = "great_expectations"


def quiet_gx_logs() -> None:
    """Raise GX's loggers to GX_LOG_LEVEL: its root logger before the import, and the modules
    that set a level of their own (e.g. "Created temporary directory ...") after it."""
    logging.getLogger(_GX_LOGGER).setLevel(GX_LOG_LEVEL)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (
            name.startswith(_GX_LOGGER + ".")
            and isinstance(logger, logging.Logger)
            and logger.level != logging.NOTSET
            and logger.level < GX_LOG_LEVEL
        ):
            logger.setLevel(GX_LOG_LEVEL)


# Before anything in this package imports GX.
quiet_gx_logs()

_POSITION = "crm_books_position"
# COMPLETE lists every failing row. GX reports rows by the frame's index, which the gate resets
# to row positions; naming index columns instead makes GX build a dict per failing row per
# expectation, which took minutes when a 1M-row batch was largely bad.
_RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False}


@cache
def gx() -> Any:
    """The great_expectations module, imported on first use: the import alone takes seconds."""
    # Offline product: no usage statistics leave the machine.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations

    quiet_gx_logs()
    return great_expectations


@cache
def _batch_definition() -> Any:
    """One ephemeral context per process, with a pandas asset any frame can be validated through."""
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints (hashes every value of) each frame under HASH_THRESHOLD bytes, only to label
    # the batch; an ephemeral context never stores the label. Frames above it skip the hash, as
    # every frame does with a threshold of 0: about 15 % of the gate's CPU.
    pandas_execution_engine.HASH_THRESHOLD = 0

    context = gx().get_context(mode="ephemeral")
    # Progress bars would flood the Airflow task log.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas("crm_books_quality").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def run_suite(frame: pd.DataFrame, expectations: Sequence[Any]) -> list[Any]:
    """Validate the frame against the expectations; results come back in the same order."""
    from great_expectations.validator.v1_validator import Validator

    # Unsaved expectations have no id, so each carries its position to find its result by.
    for position, expectation in enumerate(expectations):
        expectation.meta = {**(expectation.meta or {}), _POSITION: position}
    suite = gx().ExpectationSuite(name="crm_books_quality", expectations=list(expectations))
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


def raised(result: Any) -> str | None:
    """The message of an exception GX caught while evaluating an expectation, if any."""
    info = result.exception_info or {}
    candidates = [info] if "raised_exception" in info else list(info.values())
    for item in candidates:
        if isinstance(item, dict) and item.get("raised_exception"):
            return str(item.get("exception_message") or "unknown error")
    return None


def failing_rows(result: Any) -> list[int]:
    """Row positions an expectation flagged (GX reports them by the frame's RangeIndex)."""
    return [int(position) for position in result.result.get("unexpected_index_list") or []]
