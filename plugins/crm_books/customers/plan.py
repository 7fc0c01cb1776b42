"""What one run of crm_books_sync is asked to do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from crm_books import config

if TYPE_CHECKING:
    pass
from crm_books.incremental import DEFAULT_OVERLAP

DEFAULT_MAX_REJECT_FRACTION = 0.2


@dataclass(frozen=True)
class SyncRun:
    """What one run of crm_books_sync is asked to do."""

    run_id: str
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    full_refresh: bool = False
    modules: tuple[str, ...] = config.SYNC_MODULES
    dag_id: str = config.SYNC_DAG_ID
    overlap: timedelta = DEFAULT_OVERLAP
    max_reject_fraction: float = DEFAULT_MAX_REJECT_FRACTION
    # Worker processes for the transform and the quality gate (PostgreSQL only); None: the
    # CRM_BOOKS_SYNC_WORKERS environment variable, else the usable cores (crm_books.customers.chunk_workers).
    workers: int | None = None
