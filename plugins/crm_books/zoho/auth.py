"""OAuth credentials for the Zoho CRM API."""

from __future__ import annotations

from dataclasses import dataclass, field

# Refresh this long before Zoho's `expires_in`, so a token never expires mid-request.
TOKEN_REFRESH_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class CrmCredentials:
    """Where the CRM is and the OAuth client that reads it (never logged)."""

    api_base_url: str
    accounts_url: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
