"""Column contracts of the frames passed between extract, transform, quality gate and load."""

from __future__ import annotations

ADDRESS_PARTS = ("street", "city", "state", "zip", "country")

CUSTOMER_COLUMNS: tuple[str, ...] = (
    "crm_account_id",
    "crm_contact_id",
    "customer_sub_type",
    "contact_name",
    "company_name",
    "email",
    "phone",
    "mobile",
    "fax",
    "website",
    "notes",
    *(f"billing_{p}" for p in ADDRESS_PARTS),
    *(f"shipping_{p}" for p in ADDRESS_PARTS),
    "crm_modified_time",
)

CONTACT_PERSON_COLUMNS: tuple[str, ...] = (
    "crm_contact_id",
    "crm_account_id",
    "salutation",
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile",
    "crm_modified_time",
)

# Every transformed frame also carries the record's original JSON, so a rejected row keeps it.
RAW_PAYLOAD = "raw_payload"

REJECT_COLUMNS: tuple[str, ...] = ("module", "crm_id", "reason", RAW_PAYLOAD)

# Zoho Books' own field limits; longer values are quarantined rather than truncated.
MAX_LENGTHS: dict[str, int] = {
    "contact_name": 200,
    "company_name": 200,
    "email": 100,
    "phone": 50,
    "mobile": 50,
    "fax": 50,
    "website": 200,
    "notes": 2000,
    **{f"{kind}_street": 500 for kind in ("billing", "shipping")},
    **{f"{kind}_{p}": 100 for kind in ("billing", "shipping") for p in ADDRESS_PARTS[1:]},
    "salutation": 25,
    "first_name": 100,
    "last_name": 100,
}
