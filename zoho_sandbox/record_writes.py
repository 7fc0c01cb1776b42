"""The record write endpoints: insert (POST), update (PUT) and delete, up to 100 records a call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zoho_sandbox import metadata
from zoho_sandbox.errors import ApiError, limit_exceeded, missing_param, record_error
from zoho_sandbox.messages import Response
from zoho_sandbox.store import SANDBOX_USER, Store
from zoho_sandbox.write_checks import refused_values

MAX_WRITE_RECORDS = 100
_INVALID_ID = "the id given seems to be invalid"


class RecordWrites:
    """POST and PUT /crm/v8/{module}[/{id}], DELETE /crm/v8/{module}?ids= and /{module}/{id}."""

    def __init__(self, store: Store, validate: Callable[[], bool] = lambda: False) -> None:
        self.store = store
        self.validate = validate  # the validate_writes knob, read per call

    def write(self, module: str, method: str, payload: dict[str, Any]) -> Response:
        records = payload.get("data")
        if not isinstance(records, list) or not records:
            raise ApiError(
                400, "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "data"}
            )
        if len(records) > MAX_WRITE_RECORDS:
            raise limit_exceeded(
                f"at most {MAX_WRITE_RECORDS} records per call",
                limit=MAX_WRITE_RECORDS,
                api_name="data",
            )
        results = [self._write_one(module, method, i, rec) for i, rec in enumerate(records)]
        return Response(_status(results, 201 if method == "POST" else 200), {"data": results})

    def _write_one(self, module: str, method: str, index: int, rec: Any) -> dict[str, Any]:
        refused = _refused_fields(module, rec)
        if refused is not None:
            return refused
        with self.store.lock:
            refused = (
                self._refused_id(module, rec) if method == "PUT" else _refused_new(module, rec)
            )
            if refused is None and self.validate():
                refused = refused_values(self.store, module, index, rec)
            if refused is not None:
                return refused
            saved = self.store.upsert(module, self._resolve_lookups(module, rec))
        return {
            "code": "SUCCESS",
            "details": {
                "Modified_Time": saved["Modified_Time"],
                "Modified_By": SANDBOX_USER,
                "Created_Time": saved["Created_Time"],
                "id": saved["id"],
                "Created_By": SANDBOX_USER,
            },
            "message": "record updated" if method == "PUT" else "record added",
            "status": "success",
        }

    def _refused_id(self, module: str, rec: dict[str, Any]) -> dict[str, Any] | None:
        """Why an update cannot go ahead (no id, or not a live record's), or None."""
        rid = rec.get("id")
        if not rid:
            return record_error(
                "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "id"}
            )
        if not str(rid).isdigit() or self.store.table(module).slot_of(int(rid)) is None:
            return record_error("INVALID_DATA", _INVALID_ID, {"api_name": "id"})
        return None

    def _resolve_lookups(self, module: str, rec: dict[str, Any]) -> dict[str, Any]:
        """Lookups written as {"id": ...} read back as {"name": ..., "id": ...}, like Zoho."""
        out = dict(rec)
        for name, target in metadata.LOOKUPS[module].items():
            value = rec.get(name)
            if isinstance(value, dict | str) and target in metadata.FIELD_NAMES:
                rid = str(value.get("id") if isinstance(value, dict) else value)
                found = self.store.get(target, rid) if rid.isdigit() else None
                label = None if found is None else _label(found)
                out[name] = {"name": label, "id": rid}
        return out

    def delete(self, module: str, ids: str | None) -> Response:
        wanted = [i.strip() for i in (ids or "").split(",") if i.strip()]
        if not wanted:
            raise missing_param("ids")
        if len(wanted) > MAX_WRITE_RECORDS:
            raise limit_exceeded(
                f"at most {MAX_WRITE_RECORDS} ids per call", limit=MAX_WRITE_RECORDS
            )
        results = [self._delete_one(module, rid) for rid in wanted]
        return Response(_status(results, 200), {"data": results})

    def _delete_one(self, module: str, rid: str) -> dict[str, Any]:
        if rid.isdigit() and self.store.delete(module, rid):
            return {
                "code": "SUCCESS",
                "details": {"id": rid},
                "message": "record deleted",
                "status": "success",
            }
        return record_error("INVALID_DATA", _INVALID_ID, {"id": rid})


def _status(results: list[dict[str, Any]], all_ok: int) -> int:
    """`all_ok` when every record succeeded, 207 when some did, 400 when none did."""
    ok = sum(1 for r in results if r["status"] == "success")
    return all_ok if ok == len(results) else (207 if ok else 400)


def _refused_fields(module: str, rec: Any) -> dict[str, Any] | None:
    """Why a record's fields cannot be written (not an object, unknown or read-only), or None."""
    if not isinstance(rec, dict):
        return record_error("INVALID_DATA", "invalid data", {"expected_data_type": "jsonobject"})
    known = metadata.FIELD_NAMES[module]
    for name in rec:
        if name not in known:
            return record_error("INVALID_DATA", f"invalid field name: {name}", {"api_name": name})
        if name in metadata.SYSTEM_FIELDS and name != "id":
            return record_error("INVALID_DATA", f"{name} is read only", {"api_name": name})
    return None


def _refused_new(module: str, rec: dict[str, Any]) -> dict[str, Any] | None:
    """Why an insert cannot go ahead (an id given, or a required field missing), or None."""
    if "id" in rec:
        return record_error("INVALID_DATA", "id cannot be set on create", {"api_name": "id"})
    for name in metadata.REQUIRED_FIELDS[module]:
        if rec.get(name) in (None, ""):
            return record_error(
                "MANDATORY_NOT_FOUND", "required field not found", {"api_name": name}
            )
    return None


def _label(record: dict[str, Any]) -> str | None:
    for name in ("Account_Name", "Deal_Name", "Full_Name", "Last_Name"):
        if isinstance(record.get(name), str):
            return str(record[name])
    return None
