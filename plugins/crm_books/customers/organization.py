"""B7: a warehouse is linked to exactly one CRM organisation."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from crm_books.warehouse.sql_files import run_sql
from crm_books.warehouse.timestamps import db_now

if TYPE_CHECKING:
    from crm_books.zoho.client import ZohoCrmClient

log = logging.getLogger(__name__)


class OrganizationMismatchError(RuntimeError):
    """B7: the warehouse belongs to another CRM organisation."""


def check_organization(engine: Engine, client: ZohoCrmClient) -> dict[str, str]:
    """B7: link the warehouse to the first CRM organisation synced; refuse any other."""
    org = client.organization()
    org_id = str(org.get("id") or "")
    if not org_id:
        raise OrganizationMismatchError("the CRM /org endpoint returned no organisation id")
    with engine.begin() as conn:
        run_sql(
            conn,
            "sync/insert_organization",
            {"crm_org_id": org_id, "org_name": org.get("company_name"), "linked_at": db_now()},
        )
        linked = run_sql(conn, "sync/select_organization").one()
    if linked.crm_org_id != org_id:
        raise OrganizationMismatchError(
            f"this warehouse is linked to CRM organisation {linked.crm_org_id} ({linked.org_name}); "
            f"the zoho_crm connection points at organisation {org_id} ({org.get('company_name')}). "
            "Nothing was changed. Point zoho_crm at the linked organisation, or use a new warehouse "
            "for the other one."
        )
    log.info("CRM organisation %s (%s) matches the warehouse", org_id, linked.org_name)
    return {"crm_org_id": org_id, "org_name": str(linked.org_name or "")}
