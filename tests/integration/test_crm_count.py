"""The client counts a module's records through Zoho's /actions/count (used for progress ETAs)."""

from __future__ import annotations

from typing import Any

from crm_books.crm_client import CrmCredentials, ZohoCrmClient


def test_count_matches_the_crm(sandbox: Any) -> None:
    for i in range(7):
        sandbox.store.upsert("Accounts", {"Account_Name": f"Counted {i}"})
    client = ZohoCrmClient(
        CrmCredentials(
            sandbox.base_url,
            sandbox.accounts_url,
            sandbox.client_id,
            sandbox.client_secret,
            sandbox.refresh_token,
        )
    )
    assert client.count("Accounts") == 7
    assert client.count("Contacts") == 0
