"""Zoho CRM v8 endpoint paths, query parameters and error codes the CRM client relies on."""

from __future__ import annotations

from crm_books.config import CRM_API_PREFIX

TOKEN_PATH = "/oauth/v2/token"
ORG_PATH = f"{CRM_API_PREFIX}/org"
FIELDS_PATH = f"{CRM_API_PREFIX}/settings/fields"
RECORDS_PATH = CRM_API_PREFIX + "/{module}"
DELETED_PATH = CRM_API_PREFIX + "/{module}/deleted"
COUNT_PATH = CRM_API_PREFIX + "/{module}/actions/count"
# Bulk Read: create a job (POST), its status (GET .../{job_id}), its zip (GET .../result).
BULK_READ_PATH = "/crm/bulk/v8/read"
BULK_JOB_PATH = BULK_READ_PATH + "/{job_id}"
# The field a lookup's `name` comes from, per module it points to (`Account_Name.Account_Name`
# in a Bulk Read CSV is the related account's name, as REST's {"name": ..., "id": ...} has it).
LOOKUP_NAME_FIELDS = {"Accounts": "Account_Name", "Contacts": "Full_Name", "Deals": "Deal_Name"}

AUTH_SCHEME = "Zoho-oauthtoken"
SORT_FIELD = "Modified_Time"
ID_FIELD = "id"
# Zoho accepts at most 100 ids in one `ids=` lookup (used to fetch extra field chunks).
IDS_PER_CALL = 100

# Error codes from Zoho's responses that change what the client does.
INVALID_TOKEN = "INVALID_TOKEN"
# An access token killed by a 16th grant elsewhere (Zoho keeps 15 alive per refresh token).
INVALID_OAUTHTOKEN = "INVALID_OAUTHTOKEN"
# The accounts server's answer (HTTP 200) to more than 10 grants in 10 minutes.
ACCESS_DENIED = "Access Denied"
DISCRETE_PAGINATION_LIMIT_EXCEEDED = "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
PAGINATION_LIMIT_EXCEEDED = "PAGINATION_LIMIT_EXCEEDED"
# The client's own codes for Bulk Read jobs that end FAILED (after retries) or never finish.
BULK_JOB_FAILED = "BULK_JOB_FAILED"
BULK_JOB_TIMEOUT = "BULK_JOB_TIMEOUT"
REQUIRED_SCOPES = (
    "ZohoCRM.modules.ALL and ZohoCRM.org.READ (plus ZohoCRM.settings.fields.READ, and "
    "ZohoCRM.bulk.read for Bulk Read)"
)
