-- Pending deals whose Books customer has landed since (the account's, else the contact's).
-- A merged-away customer counts: the planner follows the merge to its master.
SELECT COUNT(*)
FROM books.deals d
WHERE d.state = 'pending'
  AND EXISTS (
      SELECT 1
      FROM books.customers c
      WHERE (c.status = 'active' OR c.merged_into_customer_id IS NOT NULL)
        AND (
            (d.crm_account_id IS NOT NULL AND c.crm_account_id = d.crm_account_id)
            OR (d.crm_account_id IS NULL AND d.crm_contact_id IS NOT NULL
                AND c.crm_contact_id = d.crm_contact_id)
        )
  )
