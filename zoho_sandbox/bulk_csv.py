"""A Bulk Read job's result: one CSV in Zoho's format, zipped."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Sequence
from typing import Any

from zoho_sandbox.store import ModuleTable, Store

_CHUNK = 5000  # records rendered at a time


def result_zip(
    store: Store, table: ModuleTable, slots: Sequence[int], columns: Sequence[str], name: str
) -> bytes:
    """A zip holding `{name}.csv`: a header row of `columns`, then one row per live slot. The
    rows are compressed as they are written (no copy of the whole CSV is held); a lone
    surrogate, which UTF-8 cannot carry, is written as the bytes Python's surrogatepass gives."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(f"{name}.csv", "w") as raw,
        io.TextIOWrapper(raw, encoding="utf-8", errors="surrogatepass", newline="") as text,
    ):
        write_rows(text, store, table, slots, columns)
    return out.getvalue()


def write_rows(
    text: io.TextIOBase,
    store: Store,
    table: ModuleTable,
    slots: Sequence[int],
    columns: Sequence[str],
) -> None:
    bases = list(dict.fromkeys(c.partition(".")[0] for c in columns if c != "id"))
    writer = csv.writer(text)
    writer.writerow(columns)
    for start in range(0, len(slots), _CHUNK):
        with store.lock:
            chunk = [s for s in slots[start : start + _CHUNK] if table.alive[s]]
            records = store.render_page(table, chunk, bases)
        writer.writerows(row(record, columns) for record in records)


def row(record: dict[str, Any], columns: Sequence[str]) -> list[str]:
    """A record's cells; plain strings (most cells) pass straight through."""
    out = []
    for column in columns:
        value = record.get(column)
        out.append(value if type(value) is str else cell(record, column))
    return out


def cell(record: dict[str, Any], column: str) -> str:
    """One CSV cell: lookups and users as the related id (or `X.<field>` of it), empty for
    null, JSON's spelling for numbers and booleans."""
    base, _, sub = column.partition(".")
    value = record.get(base)
    if isinstance(value, dict):
        value = value.get("id") if sub in ("", "id") else value.get("name")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return json.dumps(value)
