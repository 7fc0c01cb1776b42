"""Zoho-like 19-digit record ids: one block of ids per module, with parts never generated."""

from __future__ import annotations

from crm_books import config

ID_PREFIX = 5_843_104_000_000_000_000
MODULE_CODES: dict[str, int] = {config.ACCOUNTS: 1, config.CONTACTS: 2, config.DEALS: 3}
_MODULE_BLOCK = 100_000_000_000
DANGLING_OFFSET = 90_000_000_000  # ids in this part of a block are never generated
DELETED_OFFSET = 80_000_000_000


def id_base(module: str) -> int:
    """The id of generated record -1 of a module (generated record i has id base + i + 1)."""
    return ID_PREFIX + MODULE_CODES[module] * _MODULE_BLOCK
