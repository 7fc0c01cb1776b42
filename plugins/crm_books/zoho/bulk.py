"""Zoho CRM Bulk Read: a read as jobs of up to 200,000 records, each created, polled with
backoff, downloaded as a zip (streamed to a temporary file) and read from its CSV row by row.

Records come out shaped as REST gives them (zoho/client.py's pages): `id` and `Modified_Time`
first, then the fields in the order asked; empty cells are None; a lookup is `{"name": ...,
"id": ...}` (the CSV's `X` column holds the id, `X.<name field>` the name); booleans and
numbers are JSON's types again. The mapping then makes the same customers from either path.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from typing import IO, Any

from crm_books.zoho.endpoints import (
    BULK_JOB_FAILED,
    BULK_JOB_PATH,
    BULK_JOB_TIMEOUT,
    BULK_READ_PATH,
    ID_FIELD,
    LOOKUP_NAME_FIELDS,
    SORT_FIELD,
)
from crm_books.zoho.errors import CrmApiError
from crm_books.zoho.paging import Page, Record, format_zoho_time, parse_zoho_time

log = logging.getLogger(__name__)

# An API call: (method, path, keyword options of Transport.call) -> the JSON body.
Api = Callable[..., dict[str, Any] | None]
DEFAULT_BULK_READ_THRESHOLD = 50_000
_DONE = ("COMPLETED", "FAILED")
# Zoho's CSV cells can be long (a Description is up to 32,000 characters; csv's default is 128 KiB).
csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))


@dataclass(frozen=True)
class BulkPolicy:
    """How a Bulk Read job is waited for and retried.

    :param first_poll: seconds before the first status call; each next wait is `poll_factor`
        times longer, at most `max_poll` (each status call costs a credit).
    :param max_job_seconds: a job not finished after this long is an error naming it.
    :param job_attempts: jobs created for one job page before a FAILED one is an error.
    :param records_per_page: records per page handed to the caller.
    """

    first_poll: float = 0.5
    poll_factor: float = 1.5
    max_poll: float = 5.0
    max_job_seconds: float = 3600.0
    job_attempts: int = 3
    records_per_page: int = 2_000


@dataclass(frozen=True)
class FinishedJob:
    """A COMPLETED job's result block."""

    id: str
    count: int
    download_url: str
    next_page_token: str | None  # set when more records follow in another job page


@dataclass(frozen=True)
class CsvPlan:
    """Which CSV columns a job asks for, and how each becomes a REST-shaped value."""

    keys: tuple[str, ...]  # the record's keys, in REST's order
    columns: tuple[str, ...]  # the job's `fields` (lookup name columns added)
    kinds: dict[str, str]  # field -> Zoho json_type (string, boolean, integer, double, ...)
    names: dict[str, str]  # lookup field -> the column with the related record's name

    @classmethod
    def of(cls, fields: Sequence[str], metadata: Sequence[dict[str, Any]]) -> CsvPlan:
        by_name = {str(f.get("api_name")): f for f in metadata}
        rest = [f for f in dict.fromkeys(fields) if f not in (ID_FIELD, SORT_FIELD)]
        keys = (ID_FIELD, SORT_FIELD, *rest)
        kinds = {k: str(by_name.get(k, {}).get("json_type") or "string") for k in keys}
        names: dict[str, str] = {}
        for key in rest:
            if kinds[key] != "jsonobject":
                continue
            target = ((by_name[key].get("lookup") or {}).get("module") or {}).get("api_name")
            if target in LOOKUP_NAME_FIELDS:
                names[key] = f"{key}.{LOOKUP_NAME_FIELDS[target]}"
        return cls(keys, (*keys[1:], *names.values()), kinds, names)

    def shaper(self, header: Sequence[str]) -> Callable[[list[str]], Record]:
        """A function from one CSV row to its record; the header must have every column."""
        index = {name: i for i, name in enumerate(header)}
        missing = [c for c in (ID_FIELD, *self.columns) if c not in index]
        if missing:
            raise CrmApiError(
                None,
                "UNEXPECTED_RESPONSE",
                f"the Bulk Read CSV has no column {', '.join(missing)}",
                fix="check that the fields asked for exist in the module",
            )
        keys, cells = self.keys, [index[k] for k in self.keys]
        typed = [(k, _CONVERTERS[self.kinds[k]]) for k in keys if self.kinds[k] in _CONVERTERS]
        lookups = [(k, index[column]) for k, column in self.names.items()]
        plain_lookups = [k for k in keys if self.kinds[k] == "jsonobject" and k not in self.names]

        def shape(row: list[str]) -> Record:
            record: Record = dict(zip(keys, [row[i] or None for i in cells], strict=True))
            for key, convert in typed:
                if record[key] is not None:
                    record[key] = convert(record[key])
            # A lookup cell holds the related record's id; anything else (a CRM that stored
            # text there) stays the text it is, as REST would give it, for the mapping to reject.
            for key, name_at in lookups:
                if _is_id(record[key]):
                    record[key] = {"name": row[name_at] or None, "id": record[key]}
            for key in plain_lookups:
                if _is_id(record[key]):
                    record[key] = {"id": record[key]}
            return record

        return shape


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and value.isdigit()


def _number(text: str) -> int | float | str:
    """A number as JSON gives it: an int when it has no fraction or exponent."""
    try:
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return text


def _boolean(text: str) -> bool | str:
    return {"true": True, "false": False}.get(text.lower(), text)


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "boolean": _boolean,
    "integer": _number,
    "double": _number,
    "jsonarray": lambda text: text.split(";"),
}


def bulk_query(
    module: str, columns: Sequence[str], since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    """A job's `query`: the module, the columns, and Modified_Time in [since, until)."""
    conditions = []
    if since is not None:
        conditions.append(_condition("greater_equal", since))
    if until is not None:
        conditions.append(_condition("less_than", until))
    query: dict[str, Any] = {"module": {"api_name": module}, "fields": list(columns)}
    if len(conditions) == 1:
        query["criteria"] = conditions[0]
    elif conditions:
        query["criteria"] = {"group_operator": "and", "group": conditions}
    return query


def _condition(comparator: str, when: datetime) -> dict[str, Any]:
    return {
        "field": {"api_name": SORT_FIELD},
        "comparator": comparator,
        "value": format_zoho_time(when),
    }


@dataclass
class BulkReader:
    """Reads a module through Bulk Read jobs.

    :param api: makes one API call through the client's transport (token, limiter, retries,
        usage meter), e.g. `api("POST", path, json_body=...)`.
    :param on_job: called once per job created (the usage meter's bulk job count).
    :param sleep: waits between status calls (inject a fake in tests).
    :param policy: how jobs are polled and retried.
    """

    api: Api
    _: KW_ONLY
    on_job: Callable[[], None]
    sleep: Callable[[float], None] = time.sleep
    policy: BulkPolicy = field(default_factory=BulkPolicy)

    def pages(
        self,
        module: str,
        plan: CsvPlan,
        *,
        since: datetime | None,
        until: datetime | None,
        skip: Callable[[Record], bool] | None,
    ) -> Iterator[Page]:
        """Pages of the records modified in [since, until), job page after job page. The next
        job page's job is created as soon as this one completes, so Zoho prepares it while
        this one is downloaded and read. ``skip``: records already read some other way. Each is
        asked for, None included: ``since=None`` is a read of the whole module, which costs.
        """
        query = bulk_query(module, plan.columns, since, until)
        job = self._finished(module, query, None)
        while True:
            following = None
            if job.next_page_token:
                next_query = {**query, "page_token": job.next_page_token}
                following = (next_query, self._create(module, next_query))
            yield from self._result_pages(module, job, plan, skip)
            if following is None:
                return
            job = self._finished(module, *following)

    def _finished(self, module: str, query: dict[str, Any], job_id: str | None) -> FinishedJob:
        """The job (created now unless `job_id` is given) once COMPLETED; a FAILED job is
        created again, `job_attempts` jobs in all, then an error naming every job."""
        failed: list[str] = []
        for attempt in range(1, self.policy.job_attempts + 1):
            job_id = job_id or self._create(module, query)
            details = self._wait(module, job_id)
            if details.get("state") == "COMPLETED":
                return _finished_job(job_id, details)
            failed.append(job_id)
            log.warning(
                "Bulk Read job %s (%s) ended %s (attempt %d of %d)",
                job_id,
                module,
                details.get("state"),
                attempt,
                self.policy.job_attempts,
            )
            job_id = None
        raise CrmApiError(
            None,
            BULK_JOB_FAILED,
            f"Bulk Read job {failed[-1]} of {module} ended FAILED, as did every job created for "
            f"the same page ({', '.join(failed)})",
            fix="Zoho failed the export on its side: retry the task later; if it keeps failing, "
            "ask Zoho support about these job ids",
        )

    def _create(self, module: str, query: dict[str, Any]) -> str:
        body = self.api("POST", BULK_READ_PATH, json_body={"query": query, "file_type": "csv"})
        entry = ((body or {}).get("data") or [{}])[0]
        job_id = (entry.get("details") or {}).get("id")
        if not job_id:
            raise CrmApiError(None, "UNEXPECTED_RESPONSE", f"no Bulk Read job id in {body}")
        self.on_job()
        page = "next page" if query.get("page_token") else "page 1"
        log.info("Bulk Read job %s created for %s (%s)", job_id, module, page)
        return str(job_id)

    def _wait(self, module: str, job_id: str) -> dict[str, Any]:
        """The job's details once COMPLETED or FAILED, polled with growing waits."""
        started = time.monotonic()
        delay, state = self.policy.first_poll, None
        while True:
            self.sleep(delay)
            body = self.api("GET", BULK_JOB_PATH.format(job_id=job_id))
            details = dict(((body or {}).get("data") or [{}])[0])
            if details.get("state") != state:
                state = details.get("state")
                log.info("Bulk Read job %s (%s): %s", job_id, module, state)
            if state in _DONE:
                return details
            waited = time.monotonic() - started
            if waited > self.policy.max_job_seconds:
                raise CrmApiError(
                    None,
                    BULK_JOB_TIMEOUT,
                    f"Bulk Read job {job_id} of {module} is still {state} after {waited:.0f}s",
                    fix="Zoho is slow to run exports now: retry the task later",
                )
            delay = min(delay * self.policy.poll_factor, self.policy.max_poll)

    def _result_pages(
        self,
        module: str,
        job: FinishedJob,
        plan: CsvPlan,
        skip: Callable[[Record], bool] | None,
    ) -> Iterator[Page]:
        """The job's records, streamed from its downloaded zip in pages."""
        with tempfile.TemporaryFile(prefix=f"zoho-bulk-{job.id}-") as archive:
            got = self.api("GET", job.download_url, sink=archive) or {}
            log.info(
                "Bulk Read job %s (%s): downloaded %d records (%.1f MB zipped)",
                job.id,
                module,
                job.count,
                int(got.get("bytes", 0)) / 1e6,
            )
            read = 0
            for page in csv_pages(archive, plan, self.policy.records_per_page):
                read += len(page)
                kept = [r for r in page if not skip(r)] if skip else page
                if kept:
                    yield kept
            log.info("Bulk Read job %s (%s): read %d records", job.id, module, read)


def csv_pages(archive: IO[bytes], plan: CsvPlan, per_page: int) -> Iterator[Page]:
    """The records of the one CSV in a result zip, `per_page` at a time, read as a stream.
    Invalid UTF-8 decodes as lone surrogates, as in REST pages: the sync quarantines the value."""
    archive.seek(0)
    try:
        zipped = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise CrmApiError(
            200, "UNEXPECTED_RESPONSE", f"a Bulk Read download is not a zip ({exc})"
        ) from exc
    with zipped:
        names = [n for n in zipped.namelist() if n.lower().endswith(".csv")]
        if len(names) != 1:
            raise CrmApiError(
                None, "UNEXPECTED_RESPONSE", f"a Bulk Read zip holds {names}, not one CSV"
            )
        with zipped.open(names[0]) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
            rows = csv.reader(text)
            shape = plan.shaper(next(rows, []))
            page: Page = []
            for row in rows:
                page.append(shape(row))
                if len(page) >= per_page:
                    yield page
                    page = []
            if page:
                yield page


def _finished_job(job_id: str, details: dict[str, Any]) -> FinishedJob:
    result = details.get("result") or {}
    url = result.get("download_url") or BULK_JOB_PATH.format(job_id=job_id) + "/result"
    token = result.get("next_page_token") if result.get("more_records") else None
    return FinishedJob(job_id, int(result.get("count") or 0), str(url), token)


def already_read(at: datetime | None, ids: set[str]) -> Callable[[Record], bool]:
    """True for a record a REST read already gave: one of `ids`, still modified at `at`."""

    def seen(record: Record) -> bool:
        if str(record.get(ID_FIELD)) not in ids:
            return False
        raw = record.get(SORT_FIELD)
        return bool(raw) and at is not None and parse_zoho_time(str(raw)) == at

    return seen


def bulk_read_threshold_from(extra: dict[str, Any]) -> int | None:
    """The `zoho_crm` extra `bulk_read_threshold`: records above which an incremental read
    goes through Bulk Read (default 50,000; 0: every read); null or false: never Bulk Read."""
    value = extra.get("bulk_read_threshold", DEFAULT_BULK_READ_THRESHOLD)
    if value is None or value is False:
        return None
    number = int(value) if str(value).strip().isdigit() else -1
    if number < 0:
        raise ValueError(
            f"extra bulk_read_threshold must be a whole number of records, at least 0, or null "
            f"to never use Bulk Read (got {value!r})"
        )
    return number
