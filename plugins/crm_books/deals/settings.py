"""The potential workflow's settings: Airflow Variables, parsed and checked."""

from __future__ import annotations

import json
import logging

from crm_books import config
from crm_books.deals.stages import DEFAULT_STAGES, StageMapping, parse_workflow_setting

log = logging.getLogger(__name__)


STAGES_VARIABLE = "books_potential_stages"


class StageSettingError(ValueError):
    """The books_potential_stages Variable is not a usable won/lost mapping."""


def parse_stage_setting(value: str | None) -> StageMapping:
    """``{"won": [...], "lost": [...]}`` (either key optional) -> StageMapping; unset = defaults."""
    if value is None or not value.strip():
        return DEFAULT_STAGES
    expected = (
        f'set {STAGES_VARIABLE} to JSON like {{"won": ["Closed Won"], '
        '"lost": ["Closed Lost", "Closed Lost to Competition"]}, or delete it for the defaults'
    )
    try:
        raw = json.loads(value)
    except json.JSONDecodeError as exc:
        raise StageSettingError(f"{STAGES_VARIABLE} is not valid JSON ({exc}); {expected}") from exc
    if not isinstance(raw, dict) or not raw or set(raw) - {"won", "lost"}:
        raise StageSettingError(f"{STAGES_VARIABLE} is {value!r}; {expected}")
    lists: dict[str, frozenset[str]] = {}
    for key in ("won", "lost"):
        stages = raw.get(key, sorted(getattr(DEFAULT_STAGES, key)))
        if not isinstance(stages, list) or not all(
            isinstance(s, str) and s.strip() for s in stages
        ):
            raise StageSettingError(
                f"{STAGES_VARIABLE}[{key!r}] must be a list of stage names; {expected}"
            )
        lists[key] = frozenset(s.strip() for s in stages)
    try:
        return StageMapping(won=lists["won"], lost=lists["lost"])
    except ValueError as exc:
        raise StageSettingError(f"{STAGES_VARIABLE}: {exc}") from exc


def read_settings() -> tuple[str, StageMapping]:
    """The workflow (Variable books_potential_workflow, unset = off) and the stage mapping."""
    from airflow.sdk import Variable

    raw = Variable.get(config.WORKFLOW_VARIABLE, default=None)
    if raw is None:
        log.info("Variable %s is not set: the workflow is off", config.WORKFLOW_VARIABLE)
    workflow = parse_workflow_setting("off" if raw is None else str(raw))
    stages = parse_stage_setting(Variable.get(STAGES_VARIABLE, default=None))
    return workflow, stages
