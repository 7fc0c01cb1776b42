"""Bring the warehouse schema up to date."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from crm_books.warehouse.migrations import migrate

log = logging.getLogger(__name__)


def ensure_schema(engine: Engine) -> list[str]:
    """Apply pending warehouse migrations."""
    applied = migrate(engine)
    log.info("warehouse schema up to date (%d migrations applied now)", len(applied))
    return applied
