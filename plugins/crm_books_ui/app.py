"""The plugin's FastAPI app: the "CRM -> Books" page, behind Airflow's own authentication."""

from __future__ import annotations

from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, Response

from crm_books_ui.page import render_page

URL_PREFIX = "/crm-books"

# Reading DAG information is the least privilege every Airflow UI user already needs.
_can_read_dags = Depends(requires_access_dag(method="GET"))


def _dashboard_html() -> str:
    from crm_books.warehouse.engine import warehouse_engine
    from crm_books.warehouse.timestamps import utcnow
    from crm_books_ui.queries import load_dashboard

    engine = warehouse_engine(read_only=True)
    try:
        return render_page(load_dashboard(engine), generated_at=utcnow())
    finally:
        engine.dispose()


def create_app() -> FastAPI:
    app = FastAPI(
        title="CRM -> Books",
        description="Warehouse overview for the CRM -> Books pipeline (read-only).",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/", response_class=HTMLResponse, dependencies=[_can_read_dags])
    def books_page() -> HTMLResponse:
        return HTMLResponse(_dashboard_html(), headers={"Cache-Control": "no-store"})

    @app.exception_handler(HTTPException)
    async def _refuse(request: Request, exc: HTTPException) -> Response:
        # Browsers get a link to Airflow's login page; API clients get the usual JSON error.
        if exc.status_code in (401, 403) and "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(
                "<!doctype html><title>Log in</title><p>Log in to Airflow first: "
                '<a href="../auth/login" target="_top">Log in</a></p>',
                status_code=exc.status_code,
            )
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    return app


app = create_app()
