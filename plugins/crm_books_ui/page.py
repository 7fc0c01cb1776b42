"""The "CRM -> Books" page: view-models of the dashboard, rendered by templates/page.html."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from html import escape
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from markupsafe import Markup

from crm_books.config import MERGE_DAG_ID
from crm_books_ui.queries import SYNC_COUNT_COLUMNS, Dashboard, DuplicateGroup, TrendPoint

CHART_WIDTH = 640
CHART_HEIGHT = 180
_PAD = 36
_LINE_BREAK = re.compile(r"\n\s*")

SYNC_RUN_HEADERS = (
    "Module",
    "Run",
    "Status",
    "Started (UTC)",
    *(c.replace("_", " ").capitalize().replace("Api", "API") for c in SYNC_COUNT_COLUMNS),
    "Message",
)


@dataclass(frozen=True)
class Kpi:
    """One headline figure; ``key`` is its element id."""

    key: str
    label: str
    value: int


@dataclass(frozen=True)
class ChartDot:
    """One day's point on the chart, with its tooltip."""

    x: str
    y: str
    title: str


@dataclass(frozen=True)
class TrendChart:
    """The cumulative customer count as an SVG line chart, in the SVG's own coordinates."""

    total: int
    peak: int
    first_day: str
    last_day: str
    line: str
    dots: tuple[ChartDot, ...]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    left: int = _PAD
    top: int = _PAD
    right: int = CHART_WIDTH - _PAD
    bottom: int = CHART_HEIGHT - _PAD


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def money(value: Decimal | None) -> str:
    return f"{value:,.2f}" if value is not None else ""


def merge_conf(group: DuplicateGroup) -> dict[str, object]:
    """The merge DAG's Params for this group: the proposed master, the others, a dry run first."""
    return {
        "master_customer_id": group.master_customer_id,
        "merge_customer_ids": list(group.merge_customer_ids),
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
        ChartDot(x, y, f"{p.day.isoformat()}: {p.total} customers (+{p.created})")
        for (x, y), p in zip(coords[1:], points[1:], strict=True)
    )
    return TrendChart(
        total=points[-1].total,
        peak=peak,
        first_day=points[0].day.isoformat(),
        last_day=points[-1].day.isoformat(),
        line=" ".join(f"{x},{y}" for x, y in coords),
        dots=dots,
    )


def kpis(d: Dashboard) -> tuple[Kpi, ...]:
    return (
        Kpi("customers-total", "Customers", d.customers_total),
        Kpi("customers-active", "Active", d.customers_active),
        Kpi("customers-books-native", "Created in Books", d.customers_books_native),
        Kpi("duplicate-groups-total", "Open duplicate groups", d.totals.get("duplicate_groups", 0)),
        Kpi("pending-deals-total", "Pending deals", d.totals.get("pending_deals", 0)),
        Kpi("rejected-records-total", "Rejected records", d.totals.get("rejected_records", 0)),
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
    return env


_PAGE = _environment().get_template("page.html")


def render_page(dashboard: Dashboard, *, generated_at: datetime) -> str:
    """The whole page as one HTML document."""
    return _PAGE.render(
        d=dashboard,
        generated_at=generated_at,
        kpis=kpis(dashboard),
        chart=trend_chart(dashboard.trend),
        counts=section_counts(dashboard),
        sync_run_headers=SYNC_RUN_HEADERS,
        sync_count_columns=SYNC_COUNT_COLUMNS,
        merge_href=merge_dag_href(),
    )
