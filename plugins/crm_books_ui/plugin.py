"""Airflow plugin: mounts the "CRM -> Books" page and adds it to the Airflow UI's navigation."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from crm_books_ui.app import URL_PREFIX, app


class CrmBooksUiPlugin(AirflowPlugin):
    """Serves the page from a FastAPI app and shows it as "CRM → Books" in the navigation bar."""

    name = "crm_books_ui"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "CRM → Books"}]
    external_views = [
        {
            "name": "CRM → Books",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "crm-books",
            "nav_top_level": True,
        }
    ]
