-- Second factors. A user's authenticator-app (TOTP) secret, sealed with
-- AES-256-GCM under the instance-shared `factor_key` (never stored in
-- clear), and the highest time step accepted so far: a code is accepted
-- only for a later step, so no step is ever accepted twice (the replay
-- guard, set-up code included).
CREATE TABLE totp_factors (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed bytea NOT NULL,
    last_step bigint NOT NULL,
    created_at timestamptz NOT NULL
);

-- Recovery codes: SHA-256 of (user id, normalised code); each is used at
-- most once (`used_at` is set by one conditional UPDATE, so of two
-- simultaneous uses exactly one wins).
CREATE TABLE recovery_codes (
    id bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    used_at timestamptz,
    UNIQUE (user_id, code_hash)
);
