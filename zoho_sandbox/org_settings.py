"""The org and metadata endpoints: GET org, settings/modules and settings/fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zoho_sandbox import metadata
from zoho_sandbox.errors import bad_method, bad_url, missing_param
from zoho_sandbox.messages import Response
from zoho_sandbox.params import Query, check_module, param


@dataclass
class Org:
    """The sandbox's org: what GET /crm/v8/org answers (the admin API may change it)."""

    id: str
    name: str
    time_zone: str

    def payload(self) -> dict[str, Any]:
        return {
            "org": [
                {
                    "id": self.id,
                    "zgid": self.id,
                    "company_name": self.name,
                    "domain_name": "org" + "".join(c for c in self.id if c.isalnum()),
                    "time_zone": self.time_zone,
                    "currency": "Indian Rupee - INR",
                    "iso_code": "INR",
                    "currency_symbol": "₹",
                    "country_code": "IN",
                    "primary_email": "admin@example.com",
                    "type": "sandbox",
                }
            ]
        }


def settings(method: str, parts: list[str], query: Query) -> Response:
    """GET settings/modules and settings/fields?module=..."""
    if method != "GET":
        raise bad_method()
    if parts == ["settings", "modules"]:
        return Response(200, metadata.modules_payload())
    if parts == ["settings", "fields"]:
        module = param(query, "module")
        if not module:
            raise missing_param("module")
        return Response(200, metadata.fields_payload(check_module(module)))
    raise bad_url()
