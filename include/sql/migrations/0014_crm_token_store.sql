-- The shared Zoho access token (issue 14): one row per refresh token, read by every task, sensor
-- poke and worker, so they use one access token instead of minting one each. Keyed by a hash of
-- (accounts URL, client id, refresh token): the refresh token itself is never stored. The access
-- token is Fernet-encrypted when Airflow has a fernet key (encrypted = TRUE). Times are Unix
-- epoch seconds, comparable across hosts. denied_until: the accounts server answered "Access
-- Denied" (too many grants); nobody asks again before then.
CREATE TABLE IF NOT EXISTS books.crm_access_tokens (
    store_key           TEXT PRIMARY KEY,
    accounts_url        TEXT NOT NULL,
    client_id           TEXT NOT NULL,
    access_token        TEXT,
    token_sha256        TEXT,
    encrypted           BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at          DOUBLE PRECISION NOT NULL DEFAULT 0,
    denied_until        DOUBLE PRECISION NOT NULL DEFAULT 0,
    grants              INTEGER NOT NULL DEFAULT 0,
    updated_at          TIMESTAMPTZ NOT NULL
);
