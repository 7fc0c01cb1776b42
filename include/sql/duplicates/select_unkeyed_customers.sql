-- Active customers (Books-native ones included, B6) without stored match keys: new ones, and
-- those whose stored keys delete_stale_match_keys just dropped. flag_duplicates keys them (in any
-- order: its groups are sorted by key and customer, whatever order the customers come in).
SELECT c.customer_id, c.contact_name, c.company_name, c.email, c.phone, c.website
FROM books.customers AS c
WHERE c.status = 'active' AND c.merged_into_customer_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM books.duplicate_match_keys AS k WHERE k.customer_id = c.customer_id)
