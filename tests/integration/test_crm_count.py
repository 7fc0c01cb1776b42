"""The client counts a module's records through Zoho's /actions/count (used for progress ETAs)."""

from __future__ import annotations

from typing import Any

from crm_books.zoho.auth import CrmCredentials
from crm_books.zoho.client import ZohoCrmClient


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


def test_more_than_2000_deletions_are_read_completely_and_once(sandbox: Any) -> None:
    ids = [sandbox.store.upsert("Contacts", {"Last_Name": f"Gone {i}"})["id"] for i in range(2_105)]
    for rid in ids:
        sandbox.store.delete("Contacts", rid)
    client = ZohoCrmClient(
        CrmCredentials(
            sandbox.base_url,
            sandbox.accounts_url,
            sandbox.client_id,
            sandbox.client_secret,
            sandbox.refresh_token,
        )
    )
    seen = [str(item["id"]) for page in client.iter_deleted("Contacts") for item in page]
    assert sorted(seen) == sorted(str(i) for i in ids)
