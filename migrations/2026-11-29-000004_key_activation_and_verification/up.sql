-- Publish-then-activate key rotation: a new key is `pending` (already in the
-- JWKS and trusted for verification) until `activates_at`, when it starts to
-- sign. The signing key is the newest non-retired key whose `activates_at`
-- has passed.
ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_state_check;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_state_check
    CHECK (state IN ('pending', 'active', 'retired'));
ALTER TABLE signing_keys ADD COLUMN activates_at timestamptz;
UPDATE signing_keys SET activates_at = created_at;
ALTER TABLE signing_keys ALTER COLUMN activates_at SET NOT NULL;

-- When the user proved the address (NULL: not yet).
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
