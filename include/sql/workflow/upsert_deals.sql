-- The deals of one run, as last seen; an older CRM version never overwrites a newer one.
INSERT INTO books.deals (crm_deal_id, deal_name, amount, stage, crm_account_id, crm_contact_id,
                         closing_date, crm_modified_time, was_won, state, pending_reason,
                         updated_at)
SELECT crm_deal_id, deal_name, amount, stage, crm_account_id, crm_contact_id, closing_date,
       crm_modified_time, was_won, state, pending_reason, :now
FROM books.stg_workflow_deals
WHERE run_id = :run_id
ON CONFLICT (crm_deal_id) DO UPDATE SET
    deal_name = excluded.deal_name,
    amount = excluded.amount,
    stage = excluded.stage,
    crm_account_id = excluded.crm_account_id,
    crm_contact_id = excluded.crm_contact_id,
    closing_date = excluded.closing_date,
    crm_modified_time = excluded.crm_modified_time,
    was_won = excluded.was_won,
    state = excluded.state,
    pending_reason = excluded.pending_reason,
    updated_at = excluded.updated_at
WHERE books.deals.crm_modified_time IS NULL
   OR excluded.crm_modified_time IS NULL
   OR excluded.crm_modified_time >= books.deals.crm_modified_time
