"""The workflow setting's values and which CRM stages count as won, lost or open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

WORKFLOWS = ("estimate", "invoice", "off")
Category = Literal["won", "lost", "open"]


class WorkflowSettingError(ValueError):
    """The books_potential_workflow setting has a value the workflow does not know."""


def parse_workflow_setting(value: str | None) -> str:
    """Normalise the Variable's value; unknown values fail with the list of valid ones."""
    cleaned = (value or "").strip().lower()
    if cleaned not in WORKFLOWS:
        raise WorkflowSettingError(
            f"books_potential_workflow is {value!r}; set it to one of: {', '.join(WORKFLOWS)}"
        )
    return cleaned


def _norm(stage: str) -> str:
    return " ".join(stage.split()).casefold()


@dataclass(frozen=True)
class StageMapping:
    """Which CRM stages count as won and lost; every other stage is open."""

    won: frozenset[str] = frozenset({"Closed Won"})
    lost: frozenset[str] = frozenset({"Closed Lost", "Closed Lost to Competition"})

    def __post_init__(self) -> None:
        overlap = {_norm(s) for s in self.won} & {_norm(s) for s in self.lost}
        if overlap:
            raise ValueError(f"stages cannot be both won and lost: {sorted(overlap)}")

    def category(self, stage: str | None) -> Category:
        if not isinstance(stage, str):
            return "open"
        key = _norm(stage)
        if key in {_norm(s) for s in self.won}:
            return "won"
        if key in {_norm(s) for s in self.lost}:
            return "lost"
        return "open"

    def categories(self, stages: pd.Series) -> pd.Series:
        """Vectorised ``category`` over a Series of stage names."""
        text = stages.astype(object).where(stages.notna(), "")
        key = text.map(lambda s: _norm(str(s)))
        out = pd.Series("open", index=stages.index, dtype=object)
        out[key.isin({_norm(s) for s in self.lost})] = "lost"
        out[key.isin({_norm(s) for s in self.won})] = "won"
        return out


DEFAULT_STAGES = StageMapping()
