-- Successor nonces are only needed during REFRESH_REUSE_GRACE; a background
-- task clears them after that. This index keeps that sweep cheap.
CREATE INDEX refresh_tokens_nonce_spent_idx ON refresh_tokens (spent_at) WHERE successor_nonce IS NOT NULL;
