"""The admin API under /__sandbox/: health, stats, clock, faults, profile knobs, org, and records
as stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zoho_sandbox import metadata
from zoho_sandbox.errors import bad_url, invalid
from zoho_sandbox.faults import Faults
from zoho_sandbox.generator import iso_time
from zoho_sandbox.messages import Request, Response
from zoho_sandbox.params import check_module, json_body
from zoho_sandbox.store import parse_time

if TYPE_CHECKING:
    from zoho_sandbox.server import SandboxServer

ADMIN_PREFIX = "/__sandbox/"
Handler = Callable[["SandboxServer", Any], Response]


def handle(sb: SandboxServer, request: Request) -> Response:
    parts = [p for p in request.path.split("/") if p][1:]
    payload: Any = json_body(request.body) if request.body else {}
    found = _ROUTES.get((request.method, "/".join(parts)))
    if found is not None:
        return found(sb, payload)
    if len(parts) == 2 and parts[0] == "records" and request.method == "POST":
        return _load(sb, check_module(parts[1]), payload)
    if len(parts) == 3 and parts[0] == "records" and request.method == "DELETE":
        return Response(200, {"deleted": sb.store.delete(check_module(parts[1]), parts[2])})
    raise bad_url()


def _health(sb: SandboxServer, payload: Any) -> Response:
    counts = {m: sb.store.count(m) for m in metadata.MODULE_NAMES}
    return Response(200, {"status": "ok", "now": iso_time(sb.clock.now()), "counts": counts})


def _stats(sb: SandboxServer, payload: Any) -> Response:
    return Response(200, _json_keys(sb.stats))


def _timeline(sb: SandboxServer, payload: Any) -> Response:
    return Response(200, {"calls": sb.timeline})


def _reset_stats(sb: SandboxServer, payload: Any) -> Response:
    sb.reset_stats()
    return Response(200, {"status": "ok"})


def _clock(sb: SandboxServer, payload: Any) -> Response:
    if "now" in payload:
        sb.set_clock(datetime.fromtimestamp(parse_time(str(payload["now"])), UTC))
    if "advance_seconds" in payload:
        sb.clock.advance(float(payload["advance_seconds"]))
    return Response(200, {"now": iso_time(sb.clock.now())})


def _faults(sb: SandboxServer, payload: Any) -> Response:
    unknown = set(payload) - set(Faults.__dataclass_fields__)
    if unknown:
        raise invalid(f"unknown fault keys: {sorted(unknown)}")
    sb.set_faults(**payload)
    return Response(200, asdict(sb.faults))


def _profile(sb: SandboxServer, payload: Any) -> Response:
    """GET: the profile and knobs in force. POST {"name": ..., knob: value, ...}: a profile's
    defaults (when named), then the knobs given; knobs not named keep their value."""
    if payload:
        settings = dict(payload)
        name = settings.pop("name", None)
        sb.set_knobs(str(name) if name else None, **settings)
    return Response(200, {"profile": sb.knob_switch.name, "knobs": sb.knobs.as_dict()})


def _org(sb: SandboxServer, payload: Any) -> Response:
    sb.set_org(
        str(payload.get("org_id", sb.org.id)),
        str(payload.get("org_name", sb.org.name)),
        payload.get("time_zone"),
    )
    return Response(200, sb.org.payload())


def _load(sb: SandboxServer, module: str, payload: Any) -> Response:
    """A list of records, or {"data": [...], "keep_times": true} to keep their ids and times."""
    if isinstance(payload, list):
        records, keep = payload, False
    else:
        records, keep = payload.get("data", []), bool(payload.get("keep_times"))
    saved = [sb.store.upsert(module, r, keep_times=keep) for r in records]
    return Response(200, {"data": saved})


_ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "health"): _health,
    ("GET", "stats"): _stats,
    ("DELETE", "stats"): _reset_stats,
    ("GET", "timeline"): _timeline,
    ("POST", "clock"): _clock,
    ("POST", "faults"): _faults,
    ("POST", "org"): _org,
    ("GET", "profile"): _profile,
    ("POST", "profile"): _profile,
}


def _json_keys(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_keys(v) for k, v in obj.items()}
    return obj
