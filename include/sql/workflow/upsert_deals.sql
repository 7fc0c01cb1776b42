-- The deals of one run, as last seen; an older CRM version never overwrites a newer one.
INSERT INTO books.deals (crm_deal_id, deal_name, amount, stage, crm_account_id, crm_contact_id,
                         closing_date, crm_modified_time, was_won, state, pending_reason,
                         updated_at)
SELECT crm_deal_id, deal_name, amount, stage, crm_account_id, crm_contact_id, closing_date,
       crm_modified_time, was_won, state, pending_reason, :now
FROM books.stg_workflow_deals
WHERE run_id = :run_id
ON CONFLICT (crm_deal_id) DO UPDATE SET
    (deal_name, amount, stage, crm_account_id, crm_contact_id, closing_date, crm_modified_time,
     was_won, state, pending_reason, updated_at)
  = (excluded.deal_name, excluded.amount, excluded.stage, excluded.crm_account_id,
     excluded.crm_contact_id, excluded.closing_date, excluded.crm_modified_time, excluded.was_won,
     excluded.state, excluded.pending_reason, excluded.updated_at)
WHERE books.deals.crm_modified_time IS NULL
   OR excluded.crm_modified_time IS NULL
   OR excluded.crm_modified_time >= books.deals.crm_modified_time
