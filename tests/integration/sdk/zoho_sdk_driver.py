"""Drives Zoho's official Python SDK (zohocrmsdk8-0) against a sandbox: records and Bulk Read.

Runs in the SDK's own venv (not the project's): `python zoho_sdk_driver.py BASE_URL WORKDIR`.
Prints one JSON object of what the SDK got back, for the test to compare with the sandbox.
"""

from __future__ import annotations

import io
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore
from zohocrmsdk.src.com.zoho.api.logger import Logger
from zohocrmsdk.src.com.zoho.crm.api import ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.bulk_read import (
    ActionWrapper,
    BulkReadOperations,
    Criteria,
    FileBodyWrapper,
    Query,
    ResponseWrapper,
)
from zohocrmsdk.src.com.zoho.crm.api.bulk_read import BodyWrapper as BulkBodyWrapper
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.fields import MinifiedField
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.modules import MinifiedModule
from zohocrmsdk.src.com.zoho.crm.api.record import ActionWrapper as RecordActionWrapper
from zohocrmsdk.src.com.zoho.crm.api.record import (
    BodyWrapper,
    GetRecordsParam,
    Record,
    RecordOperations,
)
from zohocrmsdk.src.com.zoho.crm.api.record import ResponseWrapper as RecordResponseWrapper
from zohocrmsdk.src.com.zoho.crm.api.util import Choice


def initialize(base: str, work: Path) -> None:
    environment = DataCenter.Environment(base, f"{base}/oauth/v2/token", base)
    token = OAuthToken(
        client_id="sandbox-client",
        client_secret="sandbox-secret",
        refresh_token="sandbox-refresh",
        find_user=False,
    )
    logger = Logger.get_instance(level=Logger.Levels.INFO, file_path=str(work / "sdk.log"))
    Initializer.initialize(
        environment=environment,
        token=token,
        store=FileStore(str(work / "tokens.txt")),
        resource_path=str(work),
        logger=logger,
    )


def read_accounts() -> dict[str, Any]:
    params = ParameterMap()
    params.add(GetRecordsParam.fields, "Account_Name,Phone,Modified_Time")
    params.add(GetRecordsParam.per_page, 5)
    params.add(GetRecordsParam.sort_by, "id")
    params.add(GetRecordsParam.sort_order, "asc")
    response = RecordOperations("Accounts").get_records(params)
    wrapper = response.get_object()
    assert isinstance(wrapper, RecordResponseWrapper), vars(wrapper)
    records = wrapper.get_data()
    info = wrapper.get_info()
    return {
        "status": response.get_status_code(),
        "ids": [str(r.get_id()) for r in records],
        "names": [r.get_key_value("Account_Name") for r in records],
        "more_records": info.get_more_records(),
    }


def insert_contact(email: str) -> dict[str, Any]:
    record = Record()
    record.add_key_value("Last_Name", "Sdk")
    record.add_key_value("Email", email)
    body = BodyWrapper()
    body.set_data([record])
    response = RecordOperations("Contacts").create_records(body)
    wrapper = response.get_object()
    assert isinstance(wrapper, RecordActionWrapper), vars(wrapper)
    result = wrapper.get_data()[0]
    code = result.get_code()
    return {
        "status": response.get_status_code(),
        "code": code.get_value() if isinstance(code, Choice) else code,
        "details": {k: str(v) for k, v in (result.get_details() or {}).items()},
    }


def bulk_read(since: str) -> dict[str, Any]:
    """A job for page 1, then one for the next page by its page token."""
    first = bulk_job(since, None)
    token = first.pop("next_page_token")
    first["next_page"] = bulk_job(since, token) if token else None
    return first


def bulk_job(since: str, page_token: str | None) -> dict[str, Any]:
    ops = BulkReadOperations()
    query = Query()
    module = MinifiedModule()
    module.set_api_name("Contacts")
    query.set_module(module)
    query.set_fields(["Last_Name", "Email", "Account_Name", "Modified_Time"])
    criteria = Criteria()
    field = MinifiedField()
    field.set_api_name("Modified_Time")
    criteria.set_field(field)
    criteria.set_comparator(Choice("greater_than"))
    criteria.set_value(since)
    query.set_criteria(criteria)
    if page_token:
        query.set_page_token(page_token)
    else:
        query.set_page(1)
    request = BulkBodyWrapper()
    request.set_query(query)
    request.set_file_type("csv")
    created = ops.create_bulk_read_job(request)
    action = created.get_object()
    assert isinstance(action, ActionWrapper), vars(action)
    job_id = action.get_data()[0].get_details()["id"]
    states = []
    for _ in range(200):
        details = ops.get_bulk_read_job_details(int(job_id)).get_object()
        assert isinstance(details, ResponseWrapper), vars(details)
        job = details.get_data()[0]
        states.append(job.get_state().get_value())
        if states[-1] in ("COMPLETED", "FAILED"):
            break
        time.sleep(0.05)
    result = job.get_result()
    downloaded = ops.download_result(int(job_id)).get_object()
    assert isinstance(downloaded, FileBodyWrapper), vars(downloaded)
    stream = downloaded.get_file()
    raw = stream.get_stream()
    data = raw if isinstance(raw, bytes) else b"".join(raw)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (name,) = archive.namelist()
        lines = archive.read(name).decode("utf-8").splitlines()
    return {
        "create_status": created.get_status_code(),
        "states": sorted(set(states)),
        "count": result.get_count(),
        "page": result.get_page(),
        "next_page_token": result.get_next_page_token(),
        "more_records": result.get_more_records(),
        "download_url": result.get_download_url(),
        "file_name": stream.get_name(),
        "csv_name": name,
        "header": lines[0],
        "rows": len(lines) - 1,
    }


def main() -> int:
    base, work = sys.argv[1], Path(sys.argv[2])
    initialize(base, work)
    out = {
        "accounts": read_accounts(),
        "insert_ok": insert_contact("sdk.user@example.com"),
        "insert_bad_email": insert_contact("not-an-email"),
        "bulk": bulk_read(sys.argv[3]),
    }
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
