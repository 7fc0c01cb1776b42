SELECT crm_org_id, org_name, linked_at FROM books.crm_organization WHERE singleton = 1
