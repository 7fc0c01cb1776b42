-- The shared access token of one refresh token (none before the first grant).
SELECT access_token, token_sha256, encrypted, expires_at, denied_until, grants
FROM books.crm_access_tokens WHERE store_key = :store_key
