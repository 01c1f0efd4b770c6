-- Sign-in through OpenID providers. An identity is the pair (provider,
-- subject): the provider's `sub`, never the email (kept only to show it).
CREATE TABLE oidc_identities (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider text NOT NULL,
    subject text NOT NULL,
    email text NOT NULL,
    created_at timestamptz NOT NULL,
    last_used_at timestamptz,
    UNIQUE (provider, subject)
);
CREATE INDEX oidc_identities_user ON oidc_identities (user_id);

-- Authorization requests on their way to a provider, found again by the
-- SHA-256 of their `state` and deleted by the one callback that finishes
-- them (single use, dead after `expires_at`: 10 minutes). `browser_hash` is
-- the SHA-256 of a random value in an HttpOnly cookie of the browser that
-- started the request: a callback from any other browser is refused.
CREATE TABLE oidc_requests (
    state_hash bytea PRIMARY KEY,
    browser_hash bytea NOT NULL,
    provider text NOT NULL,
    -- `sign_in`, or `reauth` (then `user_id` is the signed-in user).
    purpose text NOT NULL,
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    nonce text NOT NULL,
    pkce_verifier text NOT NULL,
    next text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

-- An identity whose email belongs to an existing account: it is linked only
-- after that account's owner signs in (in the browser that holds the cookie
-- whose SHA-256 is `token_hash`); single use, 10 minutes.
CREATE TABLE oidc_links (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider text NOT NULL,
    subject text NOT NULL,
    email text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
