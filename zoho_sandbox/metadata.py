"""Zoho CRM field and module metadata served by the sandbox (settings/modules, settings/fields)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from crm_books import config

# Fields the server maintains itself; writes may not set them.
SYSTEM_FIELDS = frozenset({"id", "Created_Time", "Modified_Time", "Created_By", "Modified_By"})


@dataclass(frozen=True)
class FieldMeta:
    """One field of a module as Zoho describes it."""

    api_name: str
    data_type: str
    label: str
    length: int = 255
    lookup_module: str | None = None
    required: bool = False
    picklist: tuple[str, ...] = ()

    @property
    def json_type(self) -> str:
        return _JSON_TYPES.get(self.data_type, "string")


_JSON_TYPES = {
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
    "currency": "double",
    "double": "double",
    "integer": "integer",
    "bigint": "string",
    "boolean": "boolean",
}

DEAL_STAGES: tuple[str, ...] = (
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
    "Closed Lost to Competition",
)
INDUSTRIES: tuple[str, ...] = (
    "ASP (Application Service Provider)",
    "Data/Telecom OEM",
    "ERP (Enterprise Resource Planning)",
    "Government/Military",
    "Large Enterprise",
    "Management ISV",
    "MSP (Management Service Provider)",
    "Network Equipment Enterprise",
    "Non-management ISV",
    "Optical Networking",
    "Service Provider",
    "Small/Medium Enterprise",
    "Storage Equipment",
    "Storage Service Provider",
    "Systems Integrator",
    "Wireless Industry",
)
SALUTATIONS: tuple[str, ...] = ("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.")
ACCOUNT_TYPES: tuple[str, ...] = (
    "Analyst",
    "Competitor",
    "Customer",
    "Distributor",
    "Integrator",
    "Investor",
    "Partner",
    "Press",
    "Prospect",
    "Reseller",
    "Other",
)
LEAD_SOURCES: tuple[str, ...] = (
    "Advertisement",
    "Cold Call",
    "Employee Referral",
    "External Referral",
    "Online Store",
    "Partner",
    "Public Relations",
    "Sales Email Alias",
    "Seminar Partner",
    "Trade Show",
    "Web Download",
    "Web Research",
    "Chat",
)


def _common() -> list[FieldMeta]:
    return [
        FieldMeta("id", "bigint", "Record Id", 19),
        FieldMeta("Owner", "ownerlookup", "Owner", 120, lookup_module="users"),
        FieldMeta("Created_Time", "datetime", "Created Time", 120),
        FieldMeta("Modified_Time", "datetime", "Modified Time", 120),
        FieldMeta("Created_By", "ownerlookup", "Created By", 120, lookup_module="users"),
        FieldMeta("Modified_By", "ownerlookup", "Modified By", 120, lookup_module="users"),
    ]


def _address(prefix: str, label: str, code: str) -> list[FieldMeta]:
    return [
        FieldMeta(f"{prefix}_Street", "textarea", f"{label} Street", 250),
        FieldMeta(f"{prefix}_City", "text", f"{label} City", 100),
        FieldMeta(f"{prefix}_State", "text", f"{label} State", 100),
        FieldMeta(f"{prefix}_{code}", "text", f"{label} {code}", 30),
        FieldMeta(f"{prefix}_Country", "text", f"{label} Country", 100),
    ]


_PICKLISTS: dict[str, tuple[str, ...]] = {
    "ACCOUNT_TYPES": ACCOUNT_TYPES,
    "INDUSTRIES": INDUSTRIES,
    "SALUTATIONS": SALUTATIONS,
    "LEAD_SOURCES": LEAD_SOURCES,
    "DEAL_STAGES": DEAL_STAGES,
    "DEAL_TYPES": ("New Business", "Existing Business"),
}

# Each module's own fields, one a line, columns two or more spaces apart: api_name, data_type,
# length, then options: `required`, `label=...` (else the api name's words), `picklist=NAME`
# (of _PICKLISTS), `lookup=Module`.
_ACCOUNT_FIELDS = """
Account_Name    text      200    required
Account_Number  text      40
Account_Type    picklist  120    picklist=ACCOUNT_TYPES
Industry        picklist  120    picklist=INDUSTRIES
Annual_Revenue  currency  16
Employees       integer   9
Phone           phone     30
Fax             text      30
Website         website   255
Description     textarea  32000
Parent_Account  lookup    120    lookup=Accounts
"""
_CONTACT_FIELDS = """
Salutation       picklist  120    picklist=SALUTATIONS
First_Name       text      40
Last_Name        text      80     required
Full_Name        text      120    label=Contact Name
Email            email     100
Secondary_Email  email     100
Phone            phone     30
Mobile           phone     30
Fax              text      30
Title            text      100
Department       text      100
Lead_Source      picklist  120    picklist=LEAD_SOURCES
Account_Name     lookup    120    lookup=Accounts
Description      textarea  32000
"""
_DEAL_FIELDS = """
Deal_Name     text      120    required
Amount        currency  16
Stage         picklist  120    required  picklist=DEAL_STAGES
Probability   integer   3      label=Probability (%)
Closing_Date  date      20
Type          picklist  120    picklist=DEAL_TYPES
Lead_Source   picklist  120    picklist=LEAD_SOURCES
Account_Name  lookup    120    lookup=Accounts
Contact_Name  lookup    120    lookup=Contacts
Description   textarea  32000
"""


def _fields(table: str) -> list[FieldMeta]:
    """FieldMeta of each line of a field table (see _ACCOUNT_FIELDS)."""
    out = []
    for line in table.strip().splitlines():
        api_name, data_type, length, *options = re.split(r"\s{2,}", line.strip())
        opts = dict(o.partition("=")[::2] for o in options)
        out.append(
            FieldMeta(
                api_name,
                data_type,
                opts.get("label") or api_name.replace("_", " "),
                int(length),
                lookup_module=opts.get("lookup"),
                required="required" in opts,
                picklist=_PICKLISTS[opts["picklist"]] if "picklist" in opts else (),
            )
        )
    return out


MODULE_META: dict[str, list[FieldMeta]] = {
    config.ACCOUNTS: [
        *_common(),
        *_fields(_ACCOUNT_FIELDS),
        *_address("Billing", "Billing", "Code"),
        *_address("Shipping", "Shipping", "Code"),
    ],
    config.CONTACTS: [
        *_common(),
        *_fields(_CONTACT_FIELDS),
        *_address("Mailing", "Mailing", "Zip"),
        *_address("Other", "Other", "Zip"),
    ],
    config.DEALS: [*_common(), *_fields(_DEAL_FIELDS)],
}

MODULE_NAMES: tuple[str, ...] = tuple(MODULE_META)
FIELD_NAMES: dict[str, frozenset[str]] = {
    module: frozenset(f.api_name for f in fields) for module, fields in MODULE_META.items()
}
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    module: tuple(f.api_name for f in fields if f.required)
    for module, fields in MODULE_META.items()
}
LOOKUPS: dict[str, dict[str, str]] = {
    module: {
        f.api_name: f.lookup_module for f in fields if f.data_type == "lookup" and f.lookup_module
    }
    for module, fields in MODULE_META.items()
}
_SINGULAR = {config.ACCOUNTS: "Account", config.CONTACTS: "Contact", config.DEALS: "Deal"}
_MODULE_IDS = {config.ACCOUNTS: 1, config.CONTACTS: 2, config.DEALS: 3}
_META_ID_BASE = 5843104000000002000


def module_payload(module: str) -> dict[str, Any]:
    """The settings/modules entry for one module."""
    return {
        "id": str(_META_ID_BASE + _MODULE_IDS[module]),
        "api_name": module,
        "module_name": module,
        "plural_label": module,
        "singular_label": _SINGULAR[module],
        "api_supported": True,
        "creatable": True,
        "editable": True,
        "deletable": True,
        "viewable": True,
        "generated_type": "default",
        "status": "visible",
        "sequence_number": _MODULE_IDS[module],
    }


def modules_payload() -> dict[str, Any]:
    """The body of GET /crm/v8/settings/modules."""
    return {"modules": [module_payload(m) for m in MODULE_NAMES]}


def field_payload(module: str, index: int, field: FieldMeta) -> dict[str, Any]:
    """One settings/fields entry, in Zoho's shape."""
    entry: dict[str, Any] = {
        "id": str(_META_ID_BASE + 1000 * _MODULE_IDS[module] + index),
        "api_name": field.api_name,
        "field_label": field.label,
        "display_label": field.label,
        "data_type": field.data_type,
        "json_type": field.json_type,
        "length": field.length,
        "system_mandatory": field.required,
        "read_only": field.api_name in SYSTEM_FIELDS,
        "custom_field": False,
        "visible": True,
        "lookup": {},
        "pick_list_values": [
            {"display_value": v, "actual_value": v, "sequence_number": i + 1}
            for i, v in enumerate(field.picklist)
        ],
    }
    if field.lookup_module is not None:
        entry["lookup"] = {
            "module": {"api_name": field.lookup_module, "id": str(_META_ID_BASE + 99)},
            "display_label": field.label,
            "api_name": field.api_name,
        }
    return entry


def fields_payload(module: str) -> dict[str, Any]:
    """The body of GET /crm/v8/settings/fields?module=..."""
    return {"fields": [field_payload(module, i, f) for i, f in enumerate(MODULE_META[module])]}
