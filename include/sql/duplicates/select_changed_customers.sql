-- One pass over the active customers (not merged away; Books-native ones included, B6) and the
-- stored match keys, instead of one to drop stale keys and a second to find the unkeyed: a row per
-- customer or stored key that differ. keyed_customer_id is a stored key that no longer describes
-- an active customer as it is (the customer was deleted, made inactive or merged away, or one of
-- its match fields changed): flag_duplicates drops it (delete_match_keys_of). customer_id and the
-- fields are an active customer to key (again): new, or changed. Compared field by field, so a
-- write by any path (a sync, a merge, a person in Books) is seen. Rows come in any order: the
-- groups are sorted by key and customer, whatever order the customers come in.
SELECT k.customer_id AS keyed_customer_id, c.customer_id, c.contact_name, c.company_name, c.email,
       c.phone, c.website
FROM (SELECT a.customer_id, a.contact_name, a.company_name, a.email, a.phone, a.website
      FROM books.customers AS a
      WHERE a.status = 'active' AND a.merged_into_customer_id IS NULL) AS c
FULL JOIN books.duplicate_match_keys AS k ON k.customer_id = c.customer_id
WHERE k.customer_id IS NULL OR c.customer_id IS NULL
   OR c.contact_name IS DISTINCT FROM k.contact_name
   OR c.company_name IS DISTINCT FROM k.company_name
   OR c.email IS DISTINCT FROM k.email
   OR c.phone IS DISTINCT FROM k.phone
   OR c.website IS DISTINCT FROM k.website
