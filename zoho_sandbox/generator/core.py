"""The generator: records as a pure function of (seed, module, index), generated lazily."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from crm_books import config
from zoho_sandbox.generator import messy, records
from zoho_sandbox.generator.hashing import M64, mix, salts
from zoho_sandbox.generator.ids import DANGLING_OFFSET, DELETED_OFFSET, MODULE_CODES, id_base
from zoho_sandbox.generator.times import DEFAULT_ANCHOR, HISTORY_DAYS, iso_time, record_times


class Generator:
    """Deterministic records for one seed and module sizes; generated record i of a module
    has id id_base(module) + i + 1. A million-record module needs no memory until a page of
    it is served."""

    def __init__(
        self,
        *,
        seed: int,
        accounts: int,
        contacts: int,
        deals: int,
        anchor: datetime | None = None,
    ) -> None:
        self.seed = seed
        self.sizes = {
            config.ACCOUNTS: accounts,
            config.CONTACTS: contacts,
            config.DEALS: deals,
        }
        anchor = (anchor or DEFAULT_ANCHOR).astimezone(UTC)
        self.anchor_ts = int(anchor.timestamp())
        self._salts = salts(seed)
        self._account_base = id_base(config.ACCOUNTS)

    # the rules and builders live in their own modules; bound here as methods
    account_name = messy.account_name
    person = messy.person
    account = records.account
    contact = records.contact
    deal = records.deal

    def hash(self, tag: int, i: int) -> int:
        """The 64-bit hash of record i for one use (tag) of this seed."""
        # mix() written out: this runs several times for every record served
        x = (self._salts[tag] + i) & M64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
        return x ^ (x >> 31)

    def draws(self, tag: int, i: int) -> tuple[int, int, int]:
        """Three independent 64-bit hashes: the mixed-radix digits one record is drawn from."""
        h = self.hash(tag, i)
        g = mix(h ^ 0x5851F42D4C957F2D)
        return h, g, mix(g ^ 0x14057B7EF767814F)

    def record_id(self, module: str, i: int) -> int:
        return id_base(module) + i + 1

    def times(self, module: str, i: int) -> tuple[int, int]:
        """(Created_Time, Modified_Time) of record i as UTC epoch seconds."""
        return record_times(self.anchor_ts, self.hash(10 + MODULE_CODES[module], i))

    def dangling_id(self, module: str, h: int) -> int:
        """An id in the module's block that no record has (a lookup to a deleted record)."""
        return id_base(module) + DANGLING_OFFSET + h % 1_000_000_000

    def account_lookup(self, h: int) -> dict[str, str] | None:
        """A lookup to a generated account chosen by h, with the name that account has."""
        n = self.sizes[config.ACCOUNTS]
        if n == 0:
            return None
        j = h % n
        return {"name": self.account_name(j), "id": str(self._account_base + j + 1)}

    def body(self, module: str, i: int) -> dict[str, Any]:
        """Record i of a module, without id and times."""
        if module == config.ACCOUNTS:
            return self.account(i)
        if module == config.CONTACTS:
            return self.contact(i)
        return self.deal(i)

    def deleted(self, module: str) -> list[tuple[int, int, str, str]]:
        """Records deleted before the sandbox started: (id, deleted_ts, display_name, type)."""
        out = []
        for k in range(self.sizes[module] // 100):
            h = self.hash(30 + MODULE_CODES[module], k)
            ts = self.anchor_ts - h % (HISTORY_DAYS * 86400)
            kind = "recycle" if h % 10 < 7 else "permanent"
            out.append((id_base(module) + DELETED_OFFSET + k, ts, f"Deleted {module} {k}", kind))
        return out

    def iter_records(self, module: str) -> Iterator[dict[str, Any]]:
        """Full Zoho-format records of a module (id and ISO-8601 UTC times included)."""
        for i in range(self.sizes[module]):
            created, modified = self.times(module, i)
            rec = {"id": str(self.record_id(module, i)), **self.body(module, i)}
            rec["Created_Time"] = iso_time(created)
            rec["Modified_Time"] = iso_time(modified)
            yield rec
