-- API keys, service accounts, suspended users (docs/http-api.md#api-keys).

-- A suspended user: every session and key revoked, every sign-in refused
-- until an operator enables the account again.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;

-- An API key is a revocation unit like a sign-in: a `sessions` row of kind
-- `key` (its user, scope, creation, expiry as the absolute expiry, and its
-- revocation), plus what only a key has. Only a SHA-256 of the key is kept.
ALTER TABLE sessions DROP CONSTRAINT sessions_kind_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_kind_check CHECK (kind IN ('web', 'api', 'key'));
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    name         text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    start        text NOT NULL,
    last_used_at timestamptz
);

-- Service accounts (OAuth 2.0 client credentials). Their tokens carry
-- `sid` = `unit_id`; disabling a client moves that id to `retired_units`
-- (announced like a revoked session), enabling it starts a new one.
CREATE TABLE service_clients (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    scopes      text NOT NULL,
    unit_id     uuid NOT NULL UNIQUE,
    disabled_at timestamptz,
    created_at  timestamptz NOT NULL
);
CREATE TABLE service_client_secrets (
    id          uuid PRIMARY KEY,
    client_id   uuid NOT NULL REFERENCES service_clients (id) ON DELETE CASCADE,
    secret_hash bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL
);
CREATE INDEX service_client_secrets_client_idx ON service_client_secrets (client_id);

-- Revocation units that are not sessions (a disabled client's), for the
-- revocation view to load; purged once their tokens have expired.
CREATE TABLE retired_units (
    id         uuid PRIMARY KEY,
    revoked_at timestamptz NOT NULL
);

-- `keys:read` and `keys:write` join the default grant.
UPDATE users SET scopes = btrim(scopes || ' keys:read', ' ')
WHERE ' ' || scopes || ' ' NOT LIKE '% keys:read %';
UPDATE users SET scopes = btrim(scopes || ' keys:write', ' ')
WHERE ' ' || scopes || ' ' NOT LIKE '% keys:write %';
