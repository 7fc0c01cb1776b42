"""In-memory record store of the sandbox: compact columns, lazily generated bodies, sorted views."""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np

from zoho_sandbox.generator import Generator, id_base, iso_time
from zoho_sandbox.metadata import MODULE_NAMES, SYSTEM_FIELDS

# Generated records cost a few dozen bytes each (id, times and a liveness flag in arrays); their
# bodies are regenerated from the seed when served. Written records keep their body in a dict.
# Sorted views are rebuilt after writes; page tokens are keyset tokens (the sort key of the last
# record served), so records modified mid-iteration move in the order like they do in Zoho, and
# untouched records are served exactly once.
SORT_FIELDS = ("id", "Created_Time", "Modified_Time")
_SLOT_BITS = 1 << 25  # slots per module stay below this (33 million records)
_VIEW_CACHE = 8
_PLAN_CACHE = 64
SANDBOX_USER = {"name": "Sandbox Admin", "id": "5843104000000000001", "email": "admin@example.com"}
_USER_FIELDS = ("Owner", "Created_By", "Modified_By")
# "HH:MM:SS" of every second of a day: formatting a time is then two lookups and a concatenation
_CLOCK = tuple(f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60))


class TimeFormat:
    """iso_time(ts, offset) for one offset, about three times cheaper: the date part of each day
    is formatted once. Serving a page formats two times per record."""

    def __init__(self, offset_minutes: int) -> None:
        self.shift = offset_minutes * 60
        # the offset as datetime.isoformat writes it ("+05:30", "-03:30", "+00:00")
        self.suffix = iso_time(0, offset_minutes)[-6:]
        self.days: dict[int, str] = {}

    def __call__(self, ts: int) -> str:
        day, second = divmod(ts + self.shift, 86400)
        prefix = self.days.get(day)
        if prefix is None:
            if len(self.days) > 100_000:
                self.days.clear()
            prefix = datetime.fromtimestamp(day * 86400, UTC).date().isoformat() + "T"
            self.days[day] = prefix
        return prefix + _CLOCK[second] + self.suffix


@dataclass(frozen=True)
class FieldPlan:
    """How to render a requested field list: the fields copied from the body (id excluded),
    then the ones the store fills in. Built once per field list, not per record."""

    names: tuple[str, ...]
    created: bool
    modified: bool
    users: tuple[str, ...]
    template: dict[str, Any]  # every key in order: a copy is filled without resizing

    @classmethod
    def of(cls, fields: Iterable[str]) -> FieldPlan:
        names = tuple(f for f in fields if f != "id")
        users = tuple(f for f in names if f in _USER_FIELDS)
        template: dict[str, Any] = dict.fromkeys(("id", *names))
        return cls(names, "Created_Time" in names, "Modified_Time" in names, users, template)


@dataclass(frozen=True)
class View:
    """Live records of a module in one sort order: keys[i] is the sort key of slots[i]."""

    keys: array[int]
    slots: array[int]
    lo: int
    hi: int

    def __len__(self) -> int:
        return self.hi - self.lo

    def after(self, key: int) -> int:
        """Position of the first record whose sort key is past `key` (a keyset page token)."""
        return bisect_right(self.keys, key, self.lo, self.hi)


@dataclass(frozen=True)
class Deleted:
    """One entry of the deleted-records listing."""

    id: int
    deleted_ts: int
    display_name: str
    type: str


def _int64s(column: array[int]) -> np.ndarray:
    """A copy of an array("q") column, so the column can still grow (a numpy view of its
    buffer would stop append)."""
    return np.frombuffer(column, dtype=np.int64).copy()


def parse_time(value: str) -> int:
    """ISO-8601 text (offset optional, UTC assumed) to epoch seconds."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


class ModuleTable:
    """Columns of one module."""

    def __init__(self, module: str, generator: Generator) -> None:
        self.module = module
        self.generator = generator
        self.base = id_base(module)
        n = generator.sizes[module]
        self.n_generated = n
        self.ids = array("q", range(self.base + 1, self.base + n + 1))
        created, modified = array("q"), array("q")
        times = generator.times
        for i in range(n):
            c, m = times(module, i)
            created.append(c)
            modified.append(m)
        self.created = created
        self.modified = modified
        self.alive = bytearray(b"\x01") * n
        self.live = n
        self.overrides: dict[int, dict[str, Any]] = {}
        self.extra_index: dict[int, int] = {}
        self.next_id = self.base + n + 1
        self.deleted = [Deleted(*d) for d in generator.deleted(module)]
        self.version = 0
        self.views: dict[tuple[str, bool, int | None], View] = {}
        self.views_version = 0

    def slot_of(self, record_id: int) -> int | None:
        s = record_id - self.base - 1
        if 0 <= s < len(self.ids) and self.ids[s] == record_id and self.alive[s]:
            return s
        s2 = self.extra_index.get(record_id)  # loaded ids, and ids re-created after a delete
        return s2 if s2 is not None and self.alive[s2] else None

    def live_columns(self) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(slots, (ids, created, modified)) of the live records, as numpy arrays."""
        live = np.flatnonzero(np.frombuffer(self.alive, dtype=np.uint8))
        cols = (_int64s(self.ids)[live], _int64s(self.created)[live], _int64s(self.modified)[live])
        return live, cols

    def body(self, slot: int) -> dict[str, Any]:
        found = self.overrides.get(slot)
        if found is not None:
            return found
        return self.generator.body(self.module, slot)

    def view(self, sort_by: str, desc: bool, since: int | None) -> View:
        if self.views_version != self.version:
            self.views.clear()
            self.views_version = self.version
        cache_key = (sort_by, desc, since)
        found = self.views.get(cache_key)
        if found is not None:
            return found
        base = self.views.get((sort_by, desc, None))
        if base is None:
            base = self._sorted(sort_by, desc)
            self.views[(sort_by, desc, None)] = base
        view = base
        if since is not None:
            view = self._since(base, sort_by, desc, since)
        if len(self.views) >= _VIEW_CACHE:
            self.views.pop(next(k for k in self.views if k[2] is not None))
        self.views[cache_key] = view
        return view

    def _sorted(self, sort_by: str, desc: bool) -> View:
        """All live records in one order, sorted by numpy: the first page of a query waits for
        this, and a million keys sort in a tenth of the time sorted() takes. Sort keys are the
        id (negated when descending), or the time * _SLOT_BITS + slot (time negated when
        descending): unique, so any sort gives the same order, and the slot is in the low bits."""
        live = np.flatnonzero(np.frombuffer(self.alive, dtype=np.uint8))
        if sort_by == "id":
            keys = _int64s(self.ids)[live]
            if desc:
                keys = -keys
            order = np.argsort(keys, kind="stable")
            keys, slots = keys[order], live[order]
        else:
            times = _int64s(self.modified if sort_by == "Modified_Time" else self.created)[live]
            keys = (-times if desc else times) * _SLOT_BITS + live
            keys.sort()
            slots = keys & (_SLOT_BITS - 1)
        return View(array("q", keys.tobytes()), array("q", slots.tobytes()), 0, len(keys))

    def _since(self, base: View, sort_by: str, desc: bool, since: int) -> View:
        m = _SLOT_BITS
        if sort_by == "Modified_Time" and not desc:
            return View(base.keys, base.slots, bisect_left(base.keys, since * m), base.hi)
        if sort_by == "Modified_Time":
            return View(base.keys, base.slots, 0, bisect_left(base.keys, (-since + 1) * m))
        modified = self.modified
        pairs = [(k, s) for k, s in zip(base.keys, base.slots, strict=True) if modified[s] >= since]
        keys = array("q", (k for k, _ in pairs))
        return View(keys, array("q", (s for _, s in pairs)), 0, len(pairs))


class Store:
    """All modules of one sandbox org. Thread-safe; times come from the injected clock."""

    def __init__(self, generator: Generator, clock: Callable[[], int]) -> None:
        self.generator = generator
        self.clock = clock
        self.lock = threading.RLock()
        self.tables = {m: ModuleTable(m, generator) for m in MODULE_NAMES}
        self.tz_offset_minutes = 0
        self._time_format = TimeFormat(0)
        self._plans: dict[tuple[str, ...], FieldPlan] = {}

    def table(self, module: str) -> ModuleTable:
        try:
            return self.tables[module]
        except KeyError:
            raise KeyError(f"unknown module {module!r}") from None

    # -- reads ------------------------------------------------------------------------------
    def count(self, module: str) -> int:
        return self.table(module).live

    def get(self, module: str, record_id: str | int) -> dict[str, Any] | None:
        """The full record (all fields, id and times) or None."""
        with self.lock:
            t = self.table(module)
            slot = t.slot_of(int(record_id))
            if slot is None:
                return None
            return self.render(t, slot, None)

    def time_format(self) -> TimeFormat:
        """The formatter of the current time zone offset (set_org can change it)."""
        fmt = self._time_format
        if fmt.shift != self.tz_offset_minutes * 60:
            fmt = self._time_format = TimeFormat(self.tz_offset_minutes)
        return fmt

    def render_page(
        self, t: ModuleTable, slots: Iterable[int], fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Records in Zoho's format with only `fields` (plus id, first); the same dicts as
        render() gives one by one, built with one field plan and the module's body function
        looked up once, since a full sync renders every record of the CRM."""
        plan = self._plans.get(tuple(fields))
        if plan is None:
            if len(self._plans) >= _PLAN_CACHE:
                self._plans.clear()
            plan = self._plans[tuple(fields)] = FieldPlan.of(fields)
        names, users, template = plan.names, plan.users, plan.template
        created = t.created if plan.created else None
        modified = t.modified if plan.modified else None
        fmt = self.time_format()
        ids, overrides = t.ids, t.overrides
        generate = partial(self.generator.body, t.module)
        out = []
        for slot in slots:
            body = overrides[slot] if slot in overrides else generate(slot)
            record = template.copy()
            record["id"] = str(ids[slot])
            record.update(zip(names, map(body.get, names), strict=False))
            # the keys are in place, so these keep the requested order
            if created is not None:
                record["Created_Time"] = fmt(created[slot])
            if modified is not None:
                record["Modified_Time"] = fmt(modified[slot])
            for name in users:
                record[name] = SANDBOX_USER
            out.append(record)
        return out

    def render(self, t: ModuleTable, slot: int, fields: Iterable[str] | None) -> dict[str, Any]:
        """One record in Zoho's format; only `fields` (plus id) when given."""
        body = t.body(slot)
        off = self.tz_offset_minutes
        out: dict[str, Any] = {"id": str(t.ids[slot])}
        names = body.keys() if fields is None else fields
        for f in names:
            if f == "Modified_Time":
                out[f] = iso_time(t.modified[slot], off)
            elif f == "Created_Time":
                out[f] = iso_time(t.created[slot], off)
            elif f in ("Owner", "Created_By", "Modified_By"):
                out[f] = SANDBOX_USER
            elif f != "id":
                out[f] = body.get(f)
        if fields is None:
            out["Created_Time"] = iso_time(t.created[slot], off)
            out["Modified_Time"] = iso_time(t.modified[slot], off)
        return out

    def deleted(self, module: str, kind: str, since: int | None) -> list[Deleted]:
        """Deleted entries, newest first."""
        with self.lock:
            entries = [
                d
                for d in self.table(module).deleted
                if (kind == "all" or d.type == kind) and (since is None or d.deleted_ts >= since)
            ]
        entries.sort(key=lambda d: (-d.deleted_ts, -d.id))
        return entries

    # -- writes -----------------------------------------------------------------------------
    def upsert(
        self, module: str, record: dict[str, Any], *, keep_times: bool = False
    ) -> dict[str, Any]:
        """Create or update one record; the server sets id (if missing) and the times from the
        clock, unless keep_times and the record carries Created_Time / Modified_Time."""
        with self.lock:
            t = self.table(module)
            now = self.clock()
            fields = {k: v for k, v in record.items() if k not in SYSTEM_FIELDS}
            rid = record.get("id")
            slot = t.slot_of(int(rid)) if rid not in (None, "") else None
            modified = _given(record, "Modified_Time", keep_times) or now
            if slot is None:
                new_id = int(rid) if rid not in (None, "") else t.next_id
                t.next_id = max(t.next_id, new_id + 1)
                slot = len(t.ids)
                if slot >= _SLOT_BITS:
                    raise OverflowError("sandbox module is full")
                t.ids.append(new_id)
                t.created.append(_given(record, "Created_Time", keep_times) or modified)
                t.modified.append(modified)
                t.alive.append(1)
                t.live += 1
                if new_id != t.base + slot + 1:
                    t.extra_index[new_id] = slot
                t.overrides[slot] = fields
            else:
                merged = dict(t.body(slot))
                merged.update(fields)
                t.overrides[slot] = merged
                t.modified[slot] = modified
                if keep_times and record.get("Created_Time"):
                    t.created[slot] = parse_time(record["Created_Time"])
            t.version += 1
            return self.render(t, slot, None)

    def delete(self, module: str, record_id: str | int) -> bool:
        """Move a record to the recycle bin; False when there is no such live record."""
        with self.lock:
            t = self.table(module)
            slot = t.slot_of(int(record_id))
            if slot is None:
                return False
            t.deleted.append(Deleted(t.ids[slot], self.clock(), _display(t, slot), "recycle"))
            t.alive[slot] = 0
            t.live -= 1
            t.overrides.pop(slot, None)
            t.version += 1
            return True


def _given(record: dict[str, Any], name: str, keep: bool) -> int | None:
    value = record.get(name)
    return parse_time(value) if keep and isinstance(value, str) and value else None


def _display(t: ModuleTable, slot: int) -> str:
    body = t.body(slot)
    for name in ("Account_Name", "Deal_Name", "Full_Name"):
        value = body.get(name)
        if isinstance(value, str):
            return value
    first, last = body.get("First_Name") or "", body.get("Last_Name") or ""
    return f"{first} {last}".strip() or str(t.ids[slot])
