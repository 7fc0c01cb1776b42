"""Zoho's checks of written values (the `validate_writes` knob): emails and lookup targets."""

from __future__ import annotations

import re
from typing import Any

from zoho_sandbox import metadata
from zoho_sandbox.errors import record_error
from zoho_sandbox.store import Store

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
EMAIL_FIELDS: dict[str, tuple[str, ...]] = {
    module: tuple(f.api_name for f in fields if f.data_type == "email")
    for module, fields in metadata.MODULE_META.items()
}


def refused_values(
    store: Store, module: str, index: int, rec: dict[str, Any]
) -> dict[str, Any] | None:
    """INVALID_DATA for the first malformed email or lookup to a missing record, or None."""
    for name in EMAIL_FIELDS[module]:
        value = rec.get(name)
        if value not in (None, "") and not (isinstance(value, str) and _EMAIL.match(value.strip())):
            details = {"api_name": name, "json_path": f"$.data[{index}].{name}"}
            return record_error(
                "INVALID_DATA", "invalid data", details | {"expected_data_type": "email"}
            )
    for name, target in metadata.LOOKUPS[module].items():
        value = rec.get(name)
        if value in (None, "") or target not in metadata.FIELD_NAMES:
            continue
        rid = str(value.get("id") if isinstance(value, dict) else value)
        if not rid.isdigit() or store.get(target, rid) is None:
            details = {"api_name": name, "json_path": f"$.data[{index}].{name}", "id": rid}
            return record_error("INVALID_DATA", "the id given seems to be invalid", details)
    return None
