ALTER TABLE users DROP COLUMN email_verified_at;
DELETE FROM signing_keys WHERE state = 'pending';
ALTER TABLE signing_keys DROP COLUMN activates_at;
ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_state_check;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_state_check
    CHECK (state IN ('active', 'retired'));
