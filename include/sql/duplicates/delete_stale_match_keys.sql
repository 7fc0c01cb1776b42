-- Stored keys that no longer describe an active customer as it is: the customer was deleted,
-- made inactive or merged away (it belongs to no group any more), or one of its match fields
-- changed (select_unkeyed_customers then reads it to be keyed again). Compared field by field, so
-- a write by any path (a sync, a merge, a person in Books) is seen. Candidate rows stay (B6).
DELETE FROM books.duplicate_match_keys
WHERE NOT EXISTS (
    SELECT 1 FROM books.customers AS c
    WHERE c.customer_id = duplicate_match_keys.customer_id
      AND c.status = 'active' AND c.merged_into_customer_id IS NULL
      AND c.contact_name IS NOT DISTINCT FROM duplicate_match_keys.contact_name
      AND c.company_name IS NOT DISTINCT FROM duplicate_match_keys.company_name
      AND c.email IS NOT DISTINCT FROM duplicate_match_keys.email
      AND c.phone IS NOT DISTINCT FROM duplicate_match_keys.phone
      AND c.website IS NOT DISTINCT FROM duplicate_match_keys.website)
