INSERT INTO books.crm_organization (singleton, crm_org_id, org_name, linked_at)
VALUES (1, :crm_org_id, :org_name, :linked_at)
ON CONFLICT (singleton) DO NOTHING
