-- The version and state potential_reconcile last recorded for the given deals (an expanding list).
SELECT crm_deal_id, crm_modified_time, state
FROM books.deals
WHERE crm_deal_id IN :deal_ids
