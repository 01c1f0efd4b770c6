-- Users. `email` is stored normalized (trimmed, lower-cased); `scopes` is the
-- user's grant: API tokens may carry these or fewer.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    scopes        text NOT NULL DEFAULT 'profile:read notes:read notes:write',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- The revocation unit (docs/http-api.md#the-model). A web cookie, its access tokens and an
-- API client's refresh family all point at one row; killing the row kills them.
CREATE TABLE sessions (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                text NOT NULL CHECK (kind IN ('web', 'api')),
    scope               text NOT NULL,
    created_at          timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    idle_expires_at     timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    revoked_at          timestamptz,
    revoked_reason      text,
    user_agent          text NOT NULL DEFAULT '',
    ip                  text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- actix-session state. Keyed by SHA-256 of the cookie's session key: the key
-- itself is never stored. `session_id` lets a revocation drop the state too.
CREATE TABLE session_state (
    key_hash   bytea PRIMARY KEY,
    session_id uuid,
    state      text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX session_state_session_id_idx ON session_state (session_id);
CREATE INDEX session_state_expires_at_idx ON session_state (expires_at);

CREATE TABLE auth_events (
    id         bigserial PRIMARY KEY,
    kind       text NOT NULL,
    user_id    uuid,
    session_id uuid,
    ip         text NOT NULL DEFAULT '',
    detail     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);
CREATE INDEX auth_events_user_id_idx ON auth_events (user_id, created_at);

-- Failed login attempts, for throttling. `key` is `email:<sha256 hex>` or
-- `ip:<address>`; rows older than the window are purged.
CREATE TABLE login_failures (
    id        bigserial PRIMARY KEY,
    key       text NOT NULL,
    failed_at timestamptz NOT NULL
);
CREATE INDEX login_failures_key_idx ON login_failures (key, failed_at);

-- Secrets every instance must share (cookie key, CSRF key, refresh MAC key),
-- generated at first start.
CREATE TABLE app_secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL
);

-- Ed25519 signing keys. `private_key` is the 32-byte seed.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    private_key bytea NOT NULL,
    public_key  bytea NOT NULL,
    state       text NOT NULL CHECK (state IN ('active', 'retired')),
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

-- Example resource for cloned apps.
CREATE TABLE notes (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX notes_user_id_idx ON notes (user_id, created_at DESC);
