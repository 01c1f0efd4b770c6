-- Passkeys (WebAuthn credentials). `passkey` is the verifier's record of the
-- credential as JSON (credential id, public key, signature counter): nothing
-- in it can sign in by itself. A credential id belongs to one user only.
CREATE TABLE passkeys (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    credential_id bytea NOT NULL UNIQUE,
    passkey text NOT NULL,
    created_at timestamptz NOT NULL,
    last_used_at timestamptz
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- WebAuthn ceremonies in progress, kept server-side (never in a cookie),
-- found again by the SHA-256 of their challenge (which the browser's signed
-- client data names) and deleted by the one request that finishes them:
-- single use, and dead after `expires_at` (5 minutes).
CREATE TABLE webauthn_challenges (
    challenge_hash bytea PRIMARY KEY,
    purpose text NOT NULL,
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    state text NOT NULL,
    expires_at timestamptz NOT NULL
);
