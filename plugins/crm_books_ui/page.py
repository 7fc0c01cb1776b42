"""The "CRM -> Books" page: view-models of the dashboard, rendered by templates/page.html."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from html import escape
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from markupsafe import Markup

from crm_books.config import MERGE_DAG_ID
from crm_books.customers.merge_rules import CONFIRM_WORD
from crm_books_ui.documents import DocumentDetail, DocumentSearch
from crm_books_ui.edits import STATUSES
from crm_books_ui.freshness import FRESHNESS_VARIABLE, Freshness
from crm_books_ui.queries import (
    SYNC_COUNT_COLUMNS,
    Dashboard,
    DuplicateGroup,
    RunPoint,
    SyncRun,
    TrendPoint,
)

CHART_WIDTH = 640
CHART_HEIGHT = 180
_PAD = 36
_LINE_BREAK = re.compile(r"\n\s*")

# Short headers (and the run id in small type) keep the table inside 1,280 px; the full names
# are the headers' tooltips.
_SHORT = {
    "extracted": "Read",
    "unchanged": "Same",
    "inactivated": "Inactive",
    "rejected": "Rej.",
    "api_calls": "Calls",
    "api_credits": "Credits",
    "bulk_jobs": "Bulk",
}
SYNC_RUN_HEADERS = (
    ("Module", "CRM module"),
    ("Run", "Airflow run id"),
    ("Status", "run status"),
    ("Started (UTC)", "when the run started"),
    *((_SHORT.get(c, c.capitalize()), c) for c in SYNC_COUNT_COLUMNS),
    ("Message", "why a run failed, or what it noted"),
)
RUN_KINDS = (
    ("scheduled", "Scheduled runs"),
    ("manual", "Manual runs"),
    ("backfill", "Backfill runs"),
)


Kpi = tuple[str, str, int]  # element id, label and value of one headline figure
ChartDot = tuple[str, str, str]  # x, y and tooltip of one day's point on the chart


@dataclass(frozen=True)
class RunBar:
    """One run on the run chart: its bar, colour class and tooltip."""

    x: str
    y: str
    width: str
    height: str
    status: str
    title: str


@dataclass(frozen=True, kw_only=True)
class ChartFrame:
    """An SVG chart's size, plot area, y-axis top value and first and last x labels."""

    peak: int
    first: str
    last: str
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    left: int = _PAD
    top: int = _PAD
    right: int = CHART_WIDTH - _PAD
    bottom: int = CHART_HEIGHT - _PAD


@dataclass(frozen=True)
class RunChart(ChartFrame):
    """One bar per module run."""

    bars: tuple[RunBar, ...]


@dataclass(frozen=True)
class PageState:
    """What the request asked for beyond the dashboard: a search, a document, a CSRF token."""

    search: DocumentSearch | None = None
    document: DocumentDetail | None = None
    csrf_token: str = ""
    notice: str | None = None
    error: str | None = None
    freshness: tuple[Freshness, ...] = ()
    threshold_hours: float = 26.0
    problems: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class TrendChart(ChartFrame):
    """The cumulative customer count as an SVG line chart, in the SVG's own coordinates."""

    total: int
    line: str
    dots: tuple[ChartDot, ...]


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def money(value: Decimal | None) -> str:
    return f"{value:,.2f}" if value is not None else ""


def merge_conf(group: DuplicateGroup) -> dict[str, object]:
    """The merge DAG's Params for this group: the proposed master, the others, a dry run first."""
    return {
        "master_customer_id": group.proposal.master_customer_id,
        "merge_customer_ids": list(group.proposal.merge_customer_ids),
        "dry_run": True,
    }


def merge_conf_json(group: DuplicateGroup) -> str:
    return json.dumps(merge_conf(group))


def merge_dag_href(*, ui_root: str = "../") -> str:
    """The merge DAG's page, whose Trigger button opens its Params form (Airflow 3.3 has no
    URL that pre-fills that form, so the page shows the values to enter next to the link)."""
    return f"{ui_root}dags/{MERGE_DAG_ID}"


def trend_chart(points: Sequence[TrendPoint]) -> TrendChart | None:
    """The chart of the running customer total, or None when there is no customer yet."""
    if not points:
        return None
    # The running total starts from zero the day before the first customer arrived.
    points = [TrendPoint(day=points[0].day - timedelta(days=1), created=0, total=0), *points]
    peak = max(p.total for p in points) or 1
    span = max(len(points) - 1, 1)
    inner_w, inner_h = CHART_WIDTH - 2 * _PAD, CHART_HEIGHT - 2 * _PAD
    coords = [
        (
            f"{_PAD + inner_w * i / span:.1f}",
            f"{CHART_HEIGHT - _PAD - inner_h * p.total / peak:.1f}",
        )
        for i, p in enumerate(points)
    ]
    dots = tuple(
        (x, y, f"{p.day.isoformat()}: {p.total} customers (+{p.created})")
        for (x, y), p in zip(coords[1:], points[1:], strict=True)
    )
    return TrendChart(
        total=points[-1].total,
        peak=peak,
        first=points[0].day.isoformat(),
        last=points[-1].day.isoformat(),
        line=" ".join(f"{x},{y}" for x, y in coords),
        dots=dots,
    )


def run_chart(points: Sequence[RunPoint]) -> RunChart | None:
    """One bar per module run, oldest first: records read, coloured by status. Useful from the
    first run on (several runs on one day are several bars), unlike a per-day line."""
    if not points:
        return None
    peak = max(max(p.extracted for p in points), 1)
    inner_w, inner_h = CHART_WIDTH - 2 * _PAD, CHART_HEIGHT - 2 * _PAD
    slot = inner_w / len(points)
    bars = []
    for i, p in enumerate(points):
        height = max(inner_h * p.extracted / peak, 1.0)
        bars.append(
            RunBar(
                x=f"{_PAD + slot * i + slot * 0.1:.1f}",
                y=f"{CHART_HEIGHT - _PAD - height:.1f}",
                width=f"{max(slot * 0.8, 1.0):.1f}",
                height=f"{height:.1f}",
                status=p.status,
                title=f"{when(p.started_at)} {p.module} {p.run_id}: {p.status}, read "
                f"{p.extracted}, written {p.written}, rejected {p.rejected}",
            )
        )
    return RunChart(
        bars=tuple(bars),
        peak=peak,
        first=when(points[0].started_at),
        last=when(points[-1].started_at),
    )


def runs_by_kind(runs: Sequence[SyncRun]) -> list[tuple[str, str, list[SyncRun]]]:
    """The run log split by how runs were started, scheduled first; kinds without runs left out."""
    return [
        (kind, title, [r for r in runs if r.run_kind == kind])
        for kind, title in RUN_KINDS
        if any(r.run_kind == kind for r in runs)
    ]


def kpis(d: Dashboard) -> tuple[Kpi, ...]:
    return (
        ("customers-total", "Customers", d.customers_total),
        ("customers-from-accounts", "from CRM accounts", d.people.get("from_accounts", 0)),
        ("customers-from-contacts", "from CRM contacts", d.people.get("from_contacts", 0)),
        ("contact-persons-total", "Contact persons", d.people.get("contact_persons", 0)),
        ("customers-active", "Active", d.customers_active),
        ("customers-books-native", "Created in Books", d.customers_books_native),
        ("duplicate-groups-total", "Open duplicate groups", d.totals.get("duplicate_groups", 0)),
        ("pending-deals-total", "Pending deals", d.totals.get("pending_deals", 0)),
        ("rejected-records-total", "Rejected records", d.totals.get("rejected_records", 0)),
    )


def section_counts(d: Dashboard) -> dict[str, str]:
    """The count beside each list's heading: its total, or how many of the total the list shows."""
    shown = {
        "duplicate_groups": len(d.duplicate_groups),
        "locked_documents": len(d.locked_documents),
        "pending_deals": len(d.pending_deals),
        "rejected_records": len(d.rejected_records),
    }
    counts = {}
    for key, listed in shown.items():
        total = d.totals.get(key, 0)
        counts[key] = f"latest {listed} of {total}" if total > listed else str(total)
    return counts


def _as_text(value: object) -> object:
    """What every ``{{ value }}`` prints: None as an empty cell, text escaped with html.escape
    (its entities are the ones the page has always had, which markupsafe spells differently),
    and markup the template made itself (macro output) as it is."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    return Markup(escape(str(value), quote=True))


class _OneLine(Extension):
    """Drops the line breaks, and the indentation after them, from the templates' own text: the
    page stays one line of HTML, as scripts that read it (and its tests) expect. Values are
    not template text, so they keep theirs."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        for token in stream:
            if token.type == "data":
                token = Token(token.lineno, "data", _LINE_BREAK.sub("", token.value))
            yield token


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
        finalize=_as_text,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_OneLine],
    )
    env.filters.update(when=when, money=money, merge_conf_json=merge_conf_json)
    env.globals.update(statuses=STATUSES, confirm_word=CONFIRM_WORD, merge_dag_id=MERGE_DAG_ID)
    return env


_PAGE = _environment().get_template("page.html")


def render_page(
    dashboard: Dashboard, *, generated_at: datetime, state: PageState | None = None
) -> str:
    """The whole page as one HTML document."""
    state = state or PageState()
    return _PAGE.render(
        d=dashboard,
        s=state,
        stale=[f for f in state.freshness if f.stale],
        freshness_variable=FRESHNESS_VARIABLE,
        generated_at=generated_at,
        kpis=kpis(dashboard),
        chart=trend_chart(dashboard.trend),
        runs_chart=run_chart(dashboard.run_points),
        run_groups=runs_by_kind(dashboard.sync_runs),
        counts=section_counts(dashboard),
        sync_run_headers=SYNC_RUN_HEADERS,
        sync_count_columns=SYNC_COUNT_COLUMNS,
        merge_href=merge_dag_href(),
    )
