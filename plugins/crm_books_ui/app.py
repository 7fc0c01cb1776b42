"""The plugin's FastAPI app: the "CRM -> Books" page, behind Airflow's own authentication.

Reads need the DAG read permission every Airflow UI user has. The one write, editing a document
(B10), needs the DAG edit permission, a form token signed for the logged-in user and a request
the browser says comes from this Airflow (see crm_books_ui.csrf)."""

from __future__ import annotations

import time
from html import escape
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import Engine

from crm_books_ui.csrf import cross_site_reason, csrf_token, token_is_valid
from crm_books_ui.page import PageState, render_page

URL_PREFIX = "/crm-books"
_PAGE_JS = Path(__file__).parent / "templates" / "page.js"

# Reading DAG information is the least privilege every Airflow UI user already needs.
_can_read_dags = Depends(requires_access_dag(method="GET"))
# Changing a document is a change to what DAGs produce: the permission to edit DAGs.
_can_edit_dags = Depends(requires_access_dag(method="PUT"))


def _csrf_key() -> bytes:
    from airflow.configuration import conf

    return conf.get("api_auth", "jwt_secret").encode()


def _threshold() -> tuple[float, tuple[str, ...]]:
    """The freshness threshold in hours from its Variable, and what is wrong with the Variable."""
    from airflow.models.variable import Variable

    from crm_books_ui.freshness import DEFAULT_THRESHOLD, FRESHNESS_VARIABLE, BadThreshold
    from crm_books_ui.freshness import threshold_hours as parse

    try:
        return parse(Variable.get(FRESHNESS_VARIABLE, default_var=None)).total_seconds() / 3600, ()
    except BadThreshold as exc:
        return DEFAULT_THRESHOLD.total_seconds() / 3600, (str(exc),)


def _engine(*, read_only: bool) -> Engine:
    from crm_books.warehouse.engine import warehouse_engine

    return warehouse_engine(read_only=read_only)


def _page_html(user_id: str, q: str, doc: str, notice: str | None, error: str | None) -> str:
    from datetime import timedelta

    from crm_books.warehouse.timestamps import utcnow
    from crm_books_ui.documents import document_detail, search_documents
    from crm_books_ui.freshness import freshness
    from crm_books_ui.queries import load_dashboard

    hours, problems = _threshold()
    now = utcnow()
    engine = _engine(read_only=True)
    try:
        dashboard = load_dashboard(engine)
        doc_type, _, number = doc.partition(":")
        state = PageState(
            search=search_documents(engine, q) if q.strip() else None,
            document=document_detail(engine, doc_type, number) if number else None,
            csrf_token=csrf_token(_csrf_key(), user_id, now=int(time.time())),
            notice=notice,
            error=error,
            freshness=freshness(
                dashboard.last_successes, now=now, threshold=timedelta(hours=hours)
            ),
            threshold_hours=hours,
            problems=problems,
        )
        return render_page(dashboard, generated_at=now, state=state)
    finally:
        engine.dispose()


def _refuse_cross_site(request: Request, user_id: str, token: str | None) -> None:
    reason = cross_site_reason(request.headers)
    if reason is None and not token_is_valid(_csrf_key(), user_id, token, now=int(time.time())):
        reason = "the form token is missing, expired or not yours: reload the page and try again"
    if reason is not None:
        raise HTTPException(status_code=403, detail=f"refused: {reason}")


def create_app() -> FastAPI:
    app = FastAPI(
        title="CRM -> Books",
        description="Warehouse overview for the CRM -> Books pipeline.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/", response_class=HTMLResponse, dependencies=[_can_read_dags])
    def books_page(
        user: GetUserDep, q: str = "", doc: str = "", notice: str = "", error: str = ""
    ) -> HTMLResponse:
        html = _page_html(str(user.get_id()), q, doc, notice or None, error or None)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @app.get("/page.js", dependencies=[_can_read_dags])
    def page_js() -> Response:
        return Response(_PAGE_JS.read_text(encoding="utf-8"), media_type="text/javascript")

    @app.post("/documents/{document_type}/{number}", dependencies=[_can_edit_dags])
    def edit_document(
        request: Request,
        user: GetUserDep,
        document_type: str,
        number: str,
        status: Annotated[str, Form()],
        total: Annotated[str, Form()],
        csrf_token: Annotated[str | None, Form()] = None,
        q: Annotated[str, Form()] = "",
    ) -> Response:
        _refuse_cross_site(request, str(user.get_id()), csrf_token)
        back = {"q": q, "doc": f"{document_type}:{number}"}
        back.update(_save_edit(document_type, number, status, total, user.get_name()))
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/?{urlencode(back)}#document", status_code=303)

    app.exception_handler(HTTPException)(_refuse)
    return app


def _save_edit(
    document_type: str, number: str, status: str, total: str, user: str
) -> dict[str, str]:
    """A person's change of a document's status and total; the page's notice or error about it."""
    from crm_books_ui.edits import EditRefused, NoSuchDocument, edit_document

    engine = _engine(read_only=False)
    try:
        edit_document(engine, document_type, number, status=status, total=total, user=user)
        return {"notice": f"Saved by {user}: the workflow leaves it alone now."}
    except (EditRefused, NoSuchDocument) as exc:
        return {"error": f"Not saved: {exc}"}
    finally:
        engine.dispose()


async def _refuse(request: Request, exc: HTTPException) -> Response:
    # Browsers get a link to Airflow's login page; API clients get the usual JSON error.
    if exc.status_code in (401, 403) and "text/html" in request.headers.get("accept", ""):
        why = "Log in to Airflow first" if exc.status_code == 401 else escape(str(exc.detail))
        return HTMLResponse(
            f"<!doctype html><title>Log in</title><p>{why}: "
            '<a href="../auth/login" target="_top">Log in</a></p>',
            status_code=exc.status_code,
        )
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


app = create_app()
