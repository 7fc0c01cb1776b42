-- Every customer holding a key that this run's changed customers hold (books.stg_duplicate_keys),
-- with all its keys: the members of the groups this run regroups. One index lookup per key.
SELECT k.customer_id, k.name_key, k.email_key, k.phone_key, k.website_key
FROM books.duplicate_match_keys AS k
WHERE k.name_key IN (SELECT t.match_key FROM books.stg_duplicate_keys AS t
                     WHERE t.run_id = :run_id AND t.kind = 'name')
UNION
SELECT k.customer_id, k.name_key, k.email_key, k.phone_key, k.website_key
FROM books.duplicate_match_keys AS k
WHERE k.email_key IN (SELECT t.match_key FROM books.stg_duplicate_keys AS t
                      WHERE t.run_id = :run_id AND t.kind = 'email')
UNION
SELECT k.customer_id, k.name_key, k.email_key, k.phone_key, k.website_key
FROM books.duplicate_match_keys AS k
WHERE k.phone_key IN (SELECT t.match_key FROM books.stg_duplicate_keys AS t
                      WHERE t.run_id = :run_id AND t.kind = 'phone')
UNION
SELECT k.customer_id, k.name_key, k.email_key, k.phone_key, k.website_key
FROM books.duplicate_match_keys AS k
WHERE k.website_key IN (SELECT t.match_key FROM books.stg_duplicate_keys AS t
                        WHERE t.run_id = :run_id AND t.kind = 'website')
