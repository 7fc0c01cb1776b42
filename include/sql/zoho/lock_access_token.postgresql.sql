-- The refresh lock of one refresh token: whoever holds it is the only one asking Zoho for a new
-- access token; the others wait, then read the token it stored. Transaction-level, so released at
-- commit or rollback. Keyed apart from the warehouse lock (lock_warehouse) by its own hash.
SELECT pg_advisory_xact_lock(hashtext('crm_access_tokens:' || :store_key))
