-- Every customer holding a key that this run's changed customers hold (books.stg_duplicate_keys),
-- with all its keys: the members of the groups this run regroups. One scan of the stored keys,
-- each of its keys looked up among the (few) touched ones.
SELECT k.customer_id, k.name_key, k.email_key, k.phone_key, k.website_key
FROM books.duplicate_match_keys AS k
WHERE k.name_key IN (SELECT t.match_key FROM books.stg_duplicate_keys AS t
                     WHERE t.run_id = :run_id AND t.kind = 'name')
   OR k.email_key IN (SELECT t.match_key FROM books.stg_duplicate_keys AS t
                      WHERE t.run_id = :run_id AND t.kind = 'email')
   OR k.phone_key IN (SELECT t.match_key FROM books.stg_duplicate_keys AS t
                      WHERE t.run_id = :run_id AND t.kind = 'phone')
   OR k.website_key IN (SELECT t.match_key FROM books.stg_duplicate_keys AS t
                        WHERE t.run_id = :run_id AND t.kind = 'website')
