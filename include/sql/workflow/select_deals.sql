-- Deals last seen by potential_reconcile, among the given deal ids (an expanding list).
SELECT crm_deal_id, deal_name, amount, stage, crm_account_id, crm_contact_id, closing_date,
       crm_modified_time, was_won, state, pending_reason
FROM books.deals
WHERE crm_deal_id IN :deal_ids
