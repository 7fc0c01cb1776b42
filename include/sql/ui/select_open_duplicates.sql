-- Open duplicate candidates with their customers, for the most recently flagged groups.
SELECT d.candidate_id, d.group_key, d.match_reason, d.flagged_at,
       c.customer_id, c.contact_name, c.email, c.phone, c.source, c.status,
       c.crm_account_id, c.crm_contact_id, c.merged_into_customer_id
FROM books.duplicate_candidates AS d
JOIN books.customers AS c ON c.customer_id = d.customer_id
WHERE d.status = 'open'
  AND d.group_key IN (
      SELECT group_key FROM books.duplicate_candidates
      WHERE status = 'open'
      GROUP BY group_key
      ORDER BY MAX(flagged_at) DESC, group_key
      LIMIT :limit
  )
ORDER BY d.group_key, c.customer_id
