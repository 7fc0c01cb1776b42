"""The trigger forms refuse nonsense: POST dagRuns with bad conf answers 400 with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_auth import simple_auth
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def api(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Airflow's REST API in-process, the project's DAGs parsed into its database, an admin token."""
    with pytest.MonkeyPatch.context() as env:
        simple_auth(env.setenv, tmp_path_factory.mktemp("auth"), {"ops": ("admin", "s3cret-pass")})
        from airflow.api_fastapi.app import create_app
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
        from fastapi.testclient import TestClient

        DagBundlesManager().sync_bundles_to_db()
        bag = DagBag(dag_folder=str(ROOT / "dags"))
        assert not bag.import_errors, bag.import_errors
        sync_bag_to_db(bag, "dags-folder", None)
        with TestClient(create_app()) as client:
            token = client.post("/auth/token", json={"username": "ops", "password": "s3cret-pass"})
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            yield client


def _trigger(api: Any, dag_id: str, conf: dict[str, Any]) -> Any:
    return api.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})


@pytest.mark.parametrize(
    ("conf", "reason"),
    [
        ({"max_reject_fraction": 5}, "max_reject_fraction"),
        ({"max_reject_fraction": 20}, "maximum of 1"),
        ({"max_reject_fraction": -0.1}, "minimum of 0"),
        ({"max_reject_fraction": "0.2"}, "is not of type 'number'"),
        ({"modules": []}, "should be non-empty"),
        ({"modules": "Accounts"}, "is not of type 'array'"),
        ({"modules": ["Deals"]}, "'Deals' is not one of"),
        ({"modules": ["Accounts", "Accounts"]}, "has non-unique elements"),
        ({"full_refresh": "yes"}, "is not of type 'boolean'"),
    ],
)
def test_sync_form_refuses_bad_values(api: Any, conf: dict[str, Any], reason: str) -> None:
    answer = _trigger(api, "crm_books_sync", conf)
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["detail"]


@pytest.mark.parametrize(
    ("conf", "reason"),
    [
        ({"merge_customer_ids": "1058; 1059"}, "does not match"),
        ({"merge_customer_ids": "[1058]058]"}, "does not match"),
        ({"merge_customer_ids": [0]}, "less than the minimum of 1"),
        ({"merge_customer_ids": [5, 5]}, "has non-unique elements"),
        ({"merge_customer_ids": ["x"]}, "is not of type 'integer'"),
        ({"master_customer_id": 0}, "less than the minimum of 1"),
        ({"master_customer_id": "abc"}, "is not of type 'null', 'integer'"),
        ({"confirm": "merge please"}, "does not match"),
        ({"dry_run": "no"}, "is not of type 'boolean'"),
    ],
)
def test_merge_form_refuses_bad_values(api: Any, conf: dict[str, Any], reason: str) -> None:
    answer = _trigger(api, "books_merge_customers", conf)
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["detail"]


GOOD_DOCUMENT = {"crm_record_id": "5725767000000412001", "line_item": "Training", "amount": 12.5}


@pytest.mark.parametrize(
    ("conf", "reason"),
    [
        ({"document_type": "credit_note"}, "'credit_note' is not one of"),
        ({"crm_record_id": ""}, "should be non-empty"),
        ({"crm_record_id": "   "}, "does not match"),
        ({"line_item": ""}, "should be non-empty"),
        ({"line_item": "x" * 501}, "is too long"),
        ({"amount": 0}, "less than or equal to the minimum of 0"),
        ({"amount": -5}, "less than or equal to the minimum of 0"),
        ({"amount": "12.50"}, "is not of type 'number'"),
        ({"amount": 1e17}, "greater than the maximum"),
        ({"document_date": "05/11/2026"}, "is not a 'date'"),
    ],
)
def test_document_form_refuses_bad_values(api: Any, conf: dict[str, Any], reason: str) -> None:
    answer = _trigger(api, "books_create_document", {**GOOD_DOCUMENT, **conf})
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["detail"]


def test_document_form_needs_an_amount_and_accepts_a_good_request(api: Any) -> None:
    missing = _trigger(api, "books_create_document", {"crm_record_id": "1", "line_item": "x"})
    assert missing.status_code == 400, missing.text
    good = {**GOOD_DOCUMENT, "document_type": "invoice", "document_date": "2026-11-05"}
    assert _trigger(api, "books_create_document", good).status_code == 200


@pytest.mark.parametrize(
    "conf",
    [
        {"max_reject_fraction": 0, "modules": ["Contacts"]},
        {"max_reject_fraction": 1, "modules": ["Accounts", "Contacts"], "full_refresh": True},
    ],
)
def test_sync_form_accepts_the_bounds(api: Any, conf: dict[str, Any]) -> None:
    answer = _trigger(api, "crm_books_sync", conf)
    assert answer.status_code == 200, answer.text
    assert answer.json()["conf"] == conf


@pytest.mark.parametrize(
    "conf",
    [
        # A dry run needs no confirmation; ids come as text, as a list or as one id.
        {"master_customer_id": 1, "merge_customer_ids": "2, 3", "dry_run": True},
        {"master_customer_id": 1, "merge_customer_ids": [2, 3], "dry_run": True, "confirm": ""},
        {"master_customer_id": 1, "merge_customer_ids": 2, "dry_run": False, "confirm": "MERGE"},
    ],
)
def test_merge_form_accepts_dry_runs_without_confirm_and_ids_as_text(
    api: Any, conf: dict[str, Any]
) -> None:
    answer = _trigger(api, "books_merge_customers", conf)
    assert answer.status_code == 200, answer.text
