-- Potentials waiting for their Books customer, most recently seen first.
SELECT crm_deal_id, deal_name, amount, stage, crm_account_id, crm_contact_id, pending_reason,
       updated_at
FROM books.deals
WHERE state = 'pending'
ORDER BY updated_at DESC, crm_deal_id
LIMIT :limit
