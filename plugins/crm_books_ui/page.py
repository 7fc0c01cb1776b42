"""Server-rendered HTML of the "CRM -> Books" page; every value from the warehouse is escaped."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from html import escape

from crm_books.config import MERGE_DAG_ID
from crm_books_ui.queries import SYNC_COUNT_COLUMNS, Dashboard, DuplicateGroup, TrendPoint

CHART_WIDTH = 640
CHART_HEIGHT = 180
_PAD = 36

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px 24px;color:#1f2933;
background:#fff;font-size:14px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 6px;border-bottom:1px solid #d9e2ec}
.muted{color:#627d98}.kpis{display:flex;gap:16px;margin:12px 0}
.kpi{border:1px solid #d9e2ec;border-radius:6px;padding:8px 14px}.kpi b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%;margin:4px 0}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 6px;text-align:left;vertical-align:top}
td.t,td.n{white-space:nowrap}td.id{font-size:12px;white-space:nowrap}
th{background:#f5f7fa;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.status-success{color:#18794e}.status-failed{color:#c62828}.status-running{color:#b7791f}
code{font-size:12px;word-break:break-all}a.button{display:inline-block;padding:2px 8px;
border:1px solid #2f80ed;border-radius:4px;color:#2f80ed;text-decoration:none}
svg text{font-size:11px;fill:#52606d}
"""


def _e(value: object) -> str:
    """Escape any value for HTML text and attributes; None shows as an empty cell."""
    if value is None:
        return ""
    return escape(str(value), quote=True)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _money(value: Decimal | None) -> str:
    return f"{value:,.2f}" if value is not None else ""


def merge_conf(group: DuplicateGroup) -> dict[str, object]:
    """The merge DAG's Params for this group: the proposed master, the others, a dry run first."""
    return {
        "master_customer_id": group.master_customer_id,
        "merge_customer_ids": list(group.merge_customer_ids),
        "dry_run": True,
    }


def merge_dag_href(*, ui_root: str = "../") -> str:
    """The merge DAG's page, whose Trigger button opens its Params form (Airflow 3.3 has no
    URL that pre-fills that form, so the page shows the values to enter next to the link)."""
    return f"{ui_root}dags/{MERGE_DAG_ID}"


def trend_svg(points: Sequence[TrendPoint]) -> str:
    """A small line chart of the cumulative customer count, as inline SVG."""
    if not points:
        return '<p class="muted" id="customer-trend-empty">No customers yet.</p>'
    # The running total starts from zero the day before the first customer arrived.
    points = [TrendPoint(day=points[0].day - timedelta(days=1), created=0, total=0), *points]
    top = max(p.total for p in points) or 1
    span = max(len(points) - 1, 1)
    inner_w, inner_h = CHART_WIDTH - 2 * _PAD, CHART_HEIGHT - 2 * _PAD
    coords = [
        (
            _PAD + inner_w * i / span,
            CHART_HEIGHT - _PAD - inner_h * p.total / top,
        )
        for i, p in enumerate(points)
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#2f80ed">'
        f"<title>{_e(p.day.isoformat())}: {p.total} customers (+{p.created})</title></circle>"
        for (x, y), p in zip(coords[1:], points[1:], strict=True)
    )
    base = CHART_HEIGHT - _PAD
    return (
        f'<svg id="customer-trend-chart" role="img" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
        f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" data-total="{points[-1].total}">'
        f"<title>Customers over time: {points[-1].total} by {_e(points[-1].day.isoformat())}</title>"
        f'<line x1="{_PAD}" y1="{base}" x2="{CHART_WIDTH - _PAD}" y2="{base}" stroke="#bcccdc"/>'
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{base}" stroke="#bcccdc"/>'
        f'<polyline fill="none" stroke="#2f80ed" stroke-width="2" points="{line}"/>{dots}'
        f'<text x="{_PAD - 4}" y="{_PAD + 4}" text-anchor="end">{top}</text>'
        f'<text x="{_PAD - 4}" y="{base}" text-anchor="end">0</text>'
        f'<text x="{_PAD}" y="{base + 16}">{_e(points[0].day.isoformat())}</text>'
        f'<text x="{CHART_WIDTH - _PAD}" y="{base + 16}" text-anchor="end">'
        f"{_e(points[-1].day.isoformat())}</text></svg>"
    )


def _table(section: str, headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    body = "".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    if not body:
        return f'<p class="muted" id="{section}-empty">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return (
        f'<table id="{section}-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def _td(value: object, *, field: str | None = None, numeric: bool = False, css: str = "") -> str:
    css = "n" if numeric else css
    attrs = (f' data-field="{field}"' if field else "") + (f' class="{css}"' if css else "")
    return f"<td{attrs}>{_e(value)}</td>"


def _shown(total: int, shown: int) -> str:
    if total > shown:
        return f' <span class="muted">(latest {shown} of {total})</span>'
    return f' <span class="muted">({total})</span>'


def render_page(dashboard: Dashboard, *, generated_at: datetime) -> str:
    """The whole page as one HTML document."""
    d = dashboard
    runs = _table(
        "sync-runs",
        [
            "Module",
            "Run",
            "Status",
            "Started (UTC)",
            *(c.capitalize() for c in SYNC_COUNT_COLUMNS),
            "Message",
        ],
        (
            [
                _td(r.module, field="module"),
                _td(r.run_id, field="run_id", css="id"),
                f'<td data-field="status" class="status-{_e(r.status)}">{_e(r.status)}</td>',
                _td(_when(r.started_at), css="t"),
                *(_td(r.counts[c], field=c, numeric=True) for c in SYNC_COUNT_COLUMNS),
                _td(r.message),
            ]
            for r in d.sync_runs
        ),
        "No sync has run yet: trigger crm_books_sync.",
    )
    duplicates = _table(
        "duplicates",
        [
            "Match",
            "Customers (id, name, email, source)",
            "Proposed master",
            "Merge with these Params",
        ],
        (
            [
                _td(g.match_reason, field="match_reason"),
                "<td><ul>"
                + "".join(
                    f'<li data-customer-id="{c.customer_id}">#{c.customer_id} {_e(c.contact_name)}'
                    f" {_e(c.email)} <span class='muted'>{_e(c.source)}"
                    f"{' ' + _e(c.crm_id) if c.crm_id else ''}</span></li>"
                    for c in g.customers
                )
                + "</ul></td>",
                _td(g.master_customer_id, field="master_customer_id", numeric=True),
                f'<td><a class="button merge-link" target="_top" href="{_e(merge_dag_href())}">'
                f'Merge…</a><br><code class="merge-conf">{_e(json.dumps(merge_conf(g)))}</code></td>',
            ]
            for g in d.duplicate_groups
        ),
        "No open duplicate candidates.",
    )
    locked = _table(
        "locked-documents",
        ["Type", "Number", "Customer", "Deal", "Status now", "Workflow set", "Total", "Date"],
        (
            [
                _td(x.document_type, field="document_type"),
                _td(x.document_number, field="document_number"),
                _td(f"#{x.customer_id} {x.contact_name}"),
                _td(x.crm_deal_id),
                _td(x.status, field="status"),
                _td(x.workflow_status, field="workflow_status"),
                _td(_money(x.total), field="total", numeric=True),
                _td(x.date),
            ]
            for x in d.locked_documents
        ),
        "No document has been changed by hand.",
    )
    pending = _table(
        "pending-deals",
        ["Deal", "Name", "Amount", "Stage", "Account", "Contact", "Waiting for", "Seen (UTC)"],
        (
            [
                _td(p.crm_deal_id, field="crm_deal_id"),
                _td(p.deal_name, field="deal_name"),
                _td(_money(p.amount), field="amount", numeric=True),
                _td(p.stage),
                _td(p.crm_account_id),
                _td(p.crm_contact_id),
                _td(p.pending_reason, field="pending_reason"),
                _td(_when(p.updated_at), css="t"),
            ]
            for p in d.pending_deals
        ),
        "No potential is waiting for a customer.",
    )
    rejected = _table(
        "rejected-records",
        ["When (UTC)", "Module", "CRM id", "Reason", "Run", "Raw payload"],
        (
            [
                _td(_when(r.rejected_at), css="t"),
                _td(r.module, field="module"),
                _td(r.crm_id, field="crm_id"),
                _td(r.reason, field="reason"),
                _td(r.run_id, css="id"),
                f"<td><code>{_e(r.raw_payload)}</code></td>",
            ]
            for r in d.rejected_records
        ),
        "No record has been rejected.",
    )
    t = d.totals
    kpis = "".join(
        f'<div class="kpi"><span class="muted">{_e(label)}</span><b id="{key}">{value}</b></div>'
        for key, label, value in (
            ("customers-total", "Customers", d.customers_total),
            ("customers-active", "Active", d.customers_active),
            ("customers-books-native", "Created in Books", d.customers_books_native),
            ("duplicate-groups-total", "Open duplicate groups", t.get("duplicate_groups", 0)),
            ("pending-deals-total", "Pending deals", t.get("pending_deals", 0)),
            ("rejected-records-total", "Rejected records", t.get("rejected_records", 0)),
        )
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>CRM → Books</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body>"
        "<h1>CRM → Books</h1>"
        f'<p class="muted">Read from the Books warehouse at {_e(_when(generated_at))} UTC.</p>'
        f'<div class="kpis">{kpis}</div>'
        f'<section id="sync-runs"><h2>Last sync runs per module</h2>{runs}</section>'
        f'<section id="customer-trend"><h2>Customers over time</h2>{trend_svg(d.trend)}</section>'
        '<section id="duplicates"><h2>Open duplicate candidates'
        f"{_shown(t.get('duplicate_groups', 0), len(d.duplicate_groups))}</h2>{duplicates}</section>"
        '<section id="locked-documents"><h2>Documents locked by manual edits'
        f"{_shown(t.get('locked_documents', 0), len(d.locked_documents))}</h2>{locked}</section>"
        '<section id="pending-deals"><h2>Pending deals'
        f"{_shown(t.get('pending_deals', 0), len(d.pending_deals))}</h2>{pending}</section>"
        '<section id="rejected-records"><h2>Rejected records'
        f"{_shown(t.get('rejected_records', 0), len(d.rejected_records))}</h2>{rejected}</section>"
        "</body></html>"
    )
