-- Every member of the duplicate-candidate groups a customer belongs to, with whether it is active.
SELECT d.candidate_id, d.group_key, d.customer_id, d.status,
       CASE WHEN c.status = 'active' AND c.merged_into_customer_id IS NULL THEN 1 ELSE 0 END
           AS customer_active
FROM books.duplicate_candidates AS d
JOIN books.customers AS c ON c.customer_id = d.customer_id
WHERE d.group_key IN (SELECT g.group_key FROM books.duplicate_candidates AS g
                      WHERE g.customer_id = :customer_id)
ORDER BY d.candidate_id
