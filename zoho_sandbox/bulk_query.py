"""The query of a Bulk Read job, checked like Zoho checks it: module, fields, criteria, page."""

from __future__ import annotations

import base64
import hashlib
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoho_sandbox import metadata
from zoho_sandbox.errors import invalid, missing_param
from zoho_sandbox.params import check_module
from zoho_sandbox.store import Store, parse_time

# a mask over a module's slots from its (ids, created, modified) columns
Columns = tuple[np.ndarray, np.ndarray, np.ndarray]
Mask = Callable[[Columns], np.ndarray]
CRITERIA_FIELDS = {"id": 0, "Created_Time": 1, "Modified_Time": 2}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "equal": operator.eq,
    "not_equal": operator.ne,
    "greater_than": operator.gt,
    "greater_equal": operator.ge,
    "less_than": operator.lt,
    "less_equal": operator.le,
}


@dataclass(frozen=True)
class BulkQuery:
    """A checked `query`: the CSV's columns, which records match, and the job page (1-based)."""

    module: str
    columns: tuple[str, ...]  # "id" first, then the requested fields (dotted lookups kept)
    mask: Mask
    page: int
    echo: dict[str, Any]  # the query as the job details repeat it
    key: str  # binds page tokens to this module, columns and criteria

    @classmethod
    def of(cls, body: Any) -> BulkQuery:
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, dict) or not query.get("module"):
            raise missing_param("query.module")
        raw_module = query["module"]
        name = raw_module.get("api_name") if isinstance(raw_module, dict) else raw_module
        module = check_module(str(name))
        columns = _columns(module, query.get("fields"))
        criteria = query.get("criteria")
        mask = _criterion(criteria) if criteria else _everything
        key = _query_key(module, columns, criteria)
        page = (
            _page_of(query["page_token"], key) if query.get("page_token") else query.get("page", 1)
        )
        if not isinstance(page, int) or isinstance(page, bool) or page < 1:
            raise invalid("page must be a positive integer", api_name="page")
        module_ref = {"id": metadata.module_payload(module)["id"], "api_name": module}
        echo: dict[str, Any] = {"module": module_ref}
        if query.get("fields"):
            echo["fields"] = list(columns[1:])
        if criteria:
            echo["criteria"] = criteria
        echo["page"] = page
        return cls(module, columns, mask, page, echo, key)

    def page_token(self, page: int) -> str:
        """The token a job's result gives for `page` of the same query (v7+ paging)."""
        return base64.urlsafe_b64encode(f"{self.key}|{page}".encode()).decode().rstrip("=")


def _query_key(module: str, columns: tuple[str, ...], criteria: Any) -> str:
    """What a page token is bound to: the module, the columns and the criteria."""
    text = json.dumps([module, columns, criteria], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _page_of(token: Any, key: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(str(token) + "=" * (-len(str(token)) % 4)).decode()
        token_key, page = raw.split("|")
        if token_key != key:
            raise ValueError("token of another query")
        return int(page)
    except ValueError:
        raise invalid(
            "invalid page_token (it belongs to another module, fields or criteria)",
            api_name="page_token",
        ) from None


def _everything(cols: Columns) -> np.ndarray:
    return np.ones(len(cols[0]), dtype=bool)


def _columns(module: str, raw: Any) -> tuple[str, ...]:
    if raw in (None, []):
        names = [f.api_name for f in metadata.MODULE_META[module] if f.api_name != "id"]
    elif isinstance(raw, list) and all(isinstance(f, str) for f in raw):
        names = [f for f in dict.fromkeys(raw) if f != "id"]
    else:
        raise invalid("fields must be a list of field API names", api_name="fields")
    for name in names:
        base, _, sub = name.partition(".")
        lookup = next((f for f in metadata.MODULE_META[module] if f.api_name == base), None)
        if lookup is None or (sub and lookup.lookup_module is None):
            raise invalid(f"invalid field name: {name} (not a field of {module})", api_name=name)
    return ("id", *names)


def _criterion(node: Any) -> Mask:
    """A mask function for one condition or a group of them."""
    if not isinstance(node, dict):
        raise invalid("criteria must be a JSON object", api_name="criteria")
    if "group" in node:
        parts = [_criterion(n) for n in node.get("group") or []]
        if not parts:
            raise invalid("criteria group is empty", api_name="group")
        combine = (
            np.logical_or
            if str(node.get("group_operator", "and")).lower() == "or"
            else (np.logical_and)
        )
        return lambda cols: combine.reduce([p(cols) for p in parts])
    field = node.get("field")
    name = field.get("api_name") if isinstance(field, dict) else node.get("api_name")
    if name not in CRITERIA_FIELDS:
        raise invalid(
            f"criteria on {name} are not supported (use one of {sorted(CRITERIA_FIELDS)})",
            api_name=str(name),
        )
    column = CRITERIA_FIELDS[str(name)]
    return _condition(column, str(name), str(node.get("comparator")), node.get("value"))


def _condition(column: int, name: str, comparator: str, value: Any) -> Mask:
    if comparator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise invalid("between takes a list of two values", api_name=name)
        lo, hi = (_value(name, v) for v in value)
        return lambda cols: (cols[column] >= lo) & (cols[column] <= hi)
    if comparator == "in":
        wanted = np.array(
            [_value(name, v) for v in (value if isinstance(value, list) else [value])]
        )
        return lambda cols: np.isin(cols[column], wanted)
    compare = _COMPARE.get(comparator)
    if compare is None:
        known = sorted([*_COMPARE, "between", "in"])
        raise invalid(f"invalid comparator {comparator} (known: {known})", api_name=name)
    one = _value(name, value)
    return lambda cols: compare(cols[column], one)


def _value(name: str, value: Any) -> int:
    """A criteria value as the column holds it: epoch seconds for times, the number for ids."""
    try:
        return int(str(value)) if name == "id" else parse_time(str(value))
    except ValueError:
        raise invalid(f"invalid value for {name}: {value!r}", api_name=name) from None


_SEARCH_COMPARATORS = {"equals": "equal", **{c: c for c in _COMPARE}}


def count_matching(store: Store, module: str, criteria: str | None) -> int:
    """GET /crm/v8/{module}/actions/count: every live record, or those matching `criteria` in
    Zoho's search syntax, `(Modified_Time:greater_equal:2026-01-01T00:00:00+05:30)`, or
    several such conditions joined by `and`: `((...)and(...))`, on id, Created_Time and
    Modified_Time."""
    if not criteria:
        return store.count(module)
    masks = [_search_condition(part) for part in _search_parts(criteria)]
    with store.lock:
        _, cols = store.table(module).live_columns()
        return int(np.logical_and.reduce([m(cols) for m in masks]).sum())


def _search_parts(criteria: str) -> list[str]:
    text = criteria.strip()
    while text.startswith("((") and text.endswith("))"):
        text = text[1:-1]
    return [p.strip("() ") for p in text.split(")and(")] if text else []


def _search_condition(part: str) -> Mask:
    name, _, rest = part.partition(":")
    comparator, _, value = rest.partition(":")
    if name not in CRITERIA_FIELDS or comparator not in _SEARCH_COMPARATORS:
        raise invalid(f"invalid criteria ({part})", api_name="criteria")
    return _condition(CRITERIA_FIELDS[name], name, _SEARCH_COMPARATORS[comparator], value)
