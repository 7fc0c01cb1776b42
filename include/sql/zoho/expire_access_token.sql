-- Zoho rejected this access token (INVALID_OAUTHTOKEN, e.g. a 16th grant elsewhere killed it):
-- drop it, unless another task has already stored a newer one.
UPDATE books.crm_access_tokens SET access_token = NULL, token_sha256 = NULL, expires_at = 0,
                                   updated_at = :now
WHERE store_key = :store_key AND token_sha256 = :token_sha256
