"""Deterministic, lazily generated, realistic and messy CRM records for the sandbox."""

from zoho_sandbox.generator.core import Generator
from zoho_sandbox.generator.ids import ID_PREFIX, MODULE_CODES, id_base
from zoho_sandbox.generator.messy import Person
from zoho_sandbox.generator.times import DEFAULT_ANCHOR, HISTORY_DAYS, iso_time

__all__ = [
    "DEFAULT_ANCHOR",
    "HISTORY_DAYS",
    "ID_PREFIX",
    "MODULE_CODES",
    "Generator",
    "Person",
    "id_base",
    "iso_time",
]
