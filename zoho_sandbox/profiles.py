"""Profiles: how strictly a sandbox plays Zoho, as the gates its calls pass (only "default" yet)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from zoho_sandbox.messages import Request, Response

if TYPE_CHECKING:
    from zoho_sandbox.server import SandboxConfig


class Gate(Protocol):
    """A policy an incoming call passes before its endpoint runs. `admit` answers in the
    endpoint's place (a refusal, an injected failure) or returns None to let the call through;
    `release` runs after the endpoint of every admitted call, e.g. to free a concurrency slot
    or to charge credits by what was served."""

    def admit(self, request: Request) -> Response | None: ...

    def release(self, request: Request) -> None: ...


GateFactory = Callable[["SandboxConfig"], Gate]


@dataclass(frozen=True)
class Profile:
    """Gates added to the fault switches: `api_gates` for authenticated CRM API calls (after
    the fault switches), `token_gates` for the OAuth token endpoint. A strict "zoho" profile
    (latency, concurrency cap, token-grant limits, credits) is meant to be a new entry of
    PROFILES, and Bulk Read a new set of routes in `routes`."""

    name: str
    api_gates: tuple[GateFactory, ...] = ()
    token_gates: tuple[GateFactory, ...] = ()


PROFILES: dict[str, Profile] = {"default": Profile("default")}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown sandbox profile {name!r} (known: {sorted(PROFILES)})") from None


def admit(gates: tuple[Gate, ...], request: Request) -> tuple[Response | None, int]:
    """The first refusal among the gates (or None), and how many gates admitted the call."""
    for n, gate in enumerate(gates):
        refusal = gate.admit(request)
        if refusal is not None:
            return refusal, n
    return None, len(gates)


def release(gates: tuple[Gate, ...], request: Request) -> None:
    """Releases the gates that admitted a call, last admitted first."""
    for gate in reversed(gates):
        gate.release(request)
