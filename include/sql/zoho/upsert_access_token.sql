-- Store the outcome of a refresh: a new token or an "Access Denied" window, and the
-- grants counted so far (read under the refresh lock).
INSERT INTO books.crm_access_tokens (store_key, accounts_url, client_id, access_token,
                                     token_sha256, encrypted, expires_at, denied_until, grants,
                                     updated_at)
VALUES (:store_key, :accounts_url, :client_id, :access_token, :token_sha256, :encrypted,
        :expires_at, :denied_until, :grants, :now)
ON CONFLICT (store_key) DO UPDATE SET
    (access_token, token_sha256, encrypted, expires_at, denied_until, grants, updated_at) =
    (excluded.access_token, excluded.token_sha256, excluded.encrypted, excluded.expires_at,
        excluded.denied_until, excluded.grants, excluded.updated_at)
