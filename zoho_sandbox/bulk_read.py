"""The Bulk Read API: POST /crm/bulk/v8/read, GET .../{job_id} and .../{job_id}/result."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoho_sandbox.bulk_csv import result_zip
from zoho_sandbox.bulk_query import BulkQuery
from zoho_sandbox.errors import ApiError, bad_method, bad_url, invalid
from zoho_sandbox.generator import iso_time
from zoho_sandbox.limits import SlidingWindow, too_many_requests
from zoho_sandbox.messages import Request, Response
from zoho_sandbox.params import json_body
from zoho_sandbox.profiles import Knobs
from zoho_sandbox.stats import Usage
from zoho_sandbox.store import SANDBOX_USER, Store

BULK_PREFIX = "/crm/bulk/v8/read"
DOWNLOADS_MESSAGE = "You have exceeded the download limit of bulk read results per minute"
_JOB_ID_BASE = 5843104000001000000
_CREATOR = {"id": SANDBOX_USER["id"], "name": SANDBOX_USER["name"]}


@dataclass(frozen=True)
class BulkJob:
    """One job: its page of matching records (ids ascending), snapshotted at creation."""

    id: str
    query: BulkQuery
    slots: np.ndarray
    per_page: int
    more_records: bool
    created_time: str
    started: float  # time.monotonic()
    seconds: float  # job time until COMPLETED / FAILED
    fails: bool

    def state(self, now: float) -> str:
        elapsed = now - self.started
        if elapsed >= self.seconds:
            return "FAILED" if self.fails else "COMPLETED"
        return "ADDED" if elapsed < self.seconds / 10 else "IN PROGRESS"

    def details(self, now: float) -> dict[str, Any]:
        state = self.state(now)
        out: dict[str, Any] = {
            "id": self.id,
            "operation": "read",
            "state": state,
            "query": self.query.echo,
            "created_by": _CREATOR,
            "created_time": self.created_time,
            "file_type": "csv",
        }
        if state in ("COMPLETED", "FAILED"):
            done = state == "COMPLETED"
            out["result"] = {
                "page": self.query.page,
                "per_page": self.per_page,
                "count": len(self.slots) if done else 0,
                "more_records": self.more_records and done,
            }
            if done:
                out["result"]["download_url"] = f"{BULK_PREFIX}/{self.id}/result"
            if done and self.more_records:
                out["result"]["next_page_token"] = self.query.page_token(self.query.page + 1)
        return out


class BulkRead:
    """Bulk Read jobs of one org. Job time: bulk_job_base_seconds plus
    bulk_job_seconds_per_record per record of the job's page (knobs, read at creation)."""

    def __init__(
        self, store: Store, knobs: Callable[[], Knobs], usage: Usage, now: Callable[[], int]
    ) -> None:
        self.store, self.knobs, self.usage, self.now = store, knobs, usage, now
        self.jobs: dict[str, BulkJob] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.downloads = SlidingWindow()  # the sliding minute of result downloads

    def handle(self, request: Request) -> Response:
        parts = [p for p in request.path[len(BULK_PREFIX) :].split("/") if p]
        if not parts:
            if request.method != "POST":
                raise bad_method()
            return self.create(json_body(request.body))
        if request.method != "GET":
            raise bad_method()
        job = self._job(parts[0])
        if len(parts) == 1:
            return Response(200, {"data": [job.details(time.monotonic())]})
        if parts[1:] == ["result"]:
            return self.download(job)
        raise bad_url()

    def create(self, body: Any) -> Response:
        query = BulkQuery.of(body)
        k = self.knobs()
        with self.store.lock:
            table = self.store.table(query.module)
            live, cols = table.live_columns()
            mask = query.mask(cols)
            order = np.argsort(cols[0][mask], kind="stable")
            matched = live[mask][order]
        first = (query.page - 1) * k.bulk_page_records
        slots = matched[first : first + k.bulk_page_records]
        n = next(self._ids)
        job = BulkJob(
            id=str(_JOB_ID_BASE + n),
            query=query,
            slots=slots,
            per_page=k.bulk_page_records,
            more_records=len(matched) > first + k.bulk_page_records,
            created_time=iso_time(self.now(), self.store.tz_offset_minutes),
            started=time.monotonic(),
            seconds=k.bulk_job_base_seconds + k.bulk_job_seconds_per_record * len(slots),
            fails=bool(k.bulk_fail_every) and n % k.bulk_fail_every == 0,
        )
        with self._lock:
            self.jobs[job.id] = job
        self.usage.add("bulk_jobs")
        details = {
            key: job.details(job.started)[key]
            for key in ("id", "operation", "created_by", "created_time")
        }
        details["state"] = "ADDED"
        added = {
            "status": "success",
            "code": "ADDED_SUCCESSFULLY",
            "message": "Added successfully.",
            "details": details,
        }
        return Response(201, {"data": [added], "info": {}})

    def download(self, job: BulkJob) -> Response:
        state = job.state(time.monotonic())
        if state != "COMPLETED":
            raise ApiError(400, "INVALID_DATA", "the job is not completed yet", {"state": state})
        wait = self.downloads.take(self.knobs().bulk_downloads_per_minute, 60.0)
        if wait is not None:
            self.usage.add("bulk_download_refusals")
            return too_many_requests(
                DOWNLOADS_MESSAGE, wait, limit=self.knobs().bulk_downloads_per_minute
            )
        self.usage.add("bulk_downloads")
        table = self.store.table(job.query.module)
        body = result_zip(self.store, table, job.slots.tolist(), job.query.columns, job.id)
        headers = {
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{job.id}.zip"',
        }
        return Response(200, body, headers)

    def _job(self, job_id: str) -> BulkJob:
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise invalid("the job id given seems to be invalid", api_name="job_id")
        return job
