"""Zoho CRM field and module metadata served by the sandbox (settings/modules, settings/fields)."""

from __future__ import annotations

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


MODULE_META: dict[str, list[FieldMeta]] = {
    config.ACCOUNTS: [
        *_common(),
        FieldMeta("Account_Name", "text", "Account Name", 200, required=True),
        FieldMeta("Account_Number", "text", "Account Number", 40),
        FieldMeta("Account_Type", "picklist", "Account Type", 120, picklist=ACCOUNT_TYPES),
        FieldMeta("Industry", "picklist", "Industry", 120, picklist=INDUSTRIES),
        FieldMeta("Annual_Revenue", "currency", "Annual Revenue", 16),
        FieldMeta("Employees", "integer", "Employees", 9),
        FieldMeta("Phone", "phone", "Phone", 30),
        FieldMeta("Fax", "text", "Fax", 30),
        FieldMeta("Website", "website", "Website", 255),
        FieldMeta("Description", "textarea", "Description", 32000),
        FieldMeta("Parent_Account", "lookup", "Parent Account", 120, lookup_module="Accounts"),
        *_address("Billing", "Billing", "Code"),
        *_address("Shipping", "Shipping", "Code"),
    ],
    config.CONTACTS: [
        *_common(),
        FieldMeta("Salutation", "picklist", "Salutation", 120, picklist=SALUTATIONS),
        FieldMeta("First_Name", "text", "First Name", 40),
        FieldMeta("Last_Name", "text", "Last Name", 80, required=True),
        FieldMeta("Full_Name", "text", "Contact Name", 120),
        FieldMeta("Email", "email", "Email", 100),
        FieldMeta("Secondary_Email", "email", "Secondary Email", 100),
        FieldMeta("Phone", "phone", "Phone", 30),
        FieldMeta("Mobile", "phone", "Mobile", 30),
        FieldMeta("Fax", "text", "Fax", 30),
        FieldMeta("Title", "text", "Title", 100),
        FieldMeta("Department", "text", "Department", 100),
        FieldMeta("Lead_Source", "picklist", "Lead Source", 120, picklist=LEAD_SOURCES),
        FieldMeta("Account_Name", "lookup", "Account Name", 120, lookup_module="Accounts"),
        FieldMeta("Description", "textarea", "Description", 32000),
        *_address("Mailing", "Mailing", "Zip"),
        *_address("Other", "Other", "Zip"),
    ],
    config.DEALS: [
        *_common(),
        FieldMeta("Deal_Name", "text", "Deal Name", 120, required=True),
        FieldMeta("Amount", "currency", "Amount", 16),
        FieldMeta("Stage", "picklist", "Stage", 120, required=True, picklist=DEAL_STAGES),
        FieldMeta("Probability", "integer", "Probability (%)", 3),
        FieldMeta("Closing_Date", "date", "Closing Date", 20),
        FieldMeta("Type", "picklist", "Type", 120, picklist=("New Business", "Existing Business")),
        FieldMeta("Lead_Source", "picklist", "Lead Source", 120, picklist=LEAD_SOURCES),
        FieldMeta("Account_Name", "lookup", "Account Name", 120, lookup_module="Accounts"),
        FieldMeta("Contact_Name", "lookup", "Contact Name", 120, lookup_module="Contacts"),
        FieldMeta("Description", "textarea", "Description", 32000),
    ],
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
