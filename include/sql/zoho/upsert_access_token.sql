-- Store the outcome of a refresh: a new token or an "Access Denied" window, and the
-- grants counted so far (read under the refresh lock).
INSERT INTO books.crm_access_tokens (store_key, accounts_url, client_id, access_token,
                                     token_sha256, encrypted, expires_at, denied_until, grants,
                                     updated_at)
VALUES (:store_key, :accounts_url, :client_id, :access_token, :token_sha256, :encrypted,
        :expires_at, :denied_until, :grants, :now)
ON CONFLICT (store_key) DO UPDATE SET
    access_token = excluded.access_token,
    token_sha256 = excluded.token_sha256,
    encrypted = excluded.encrypted,
    expires_at = excluded.expires_at,
    denied_until = excluded.denied_until,
    grants = excluded.grants,
    updated_at = excluded.updated_at
