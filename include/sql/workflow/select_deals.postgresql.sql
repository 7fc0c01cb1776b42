-- Deals last seen by potential_reconcile, among the given deal ids (one text[] parameter).
SELECT crm_deal_id, deal_name, amount, stage, crm_account_id, crm_contact_id, closing_date,
       crm_modified_time, was_won, state, pending_reason
FROM books.deals
WHERE crm_deal_id = ANY(:deal_ids)
