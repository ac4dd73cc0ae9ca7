-- API keys for the JSON API. Only the SHA-256 of a key is stored: a database
-- leak does not leak usable keys. `prefix` (the key's first characters) lets
-- an operator tell keys apart in `semrec api-key list`.

CREATE TABLE api_keys (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100 AND name = btrim(name)),
    key_hash      TEXT NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    prefix        TEXT NOT NULL CHECK (length(prefix) BETWEEN 1 AND 32),
    scope         TEXT NOT NULL CHECK (scope IN ('write', 'admin')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
-- A name names one live key, so `api-key revoke NAME` is unambiguous.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;
