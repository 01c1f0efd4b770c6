-- Refresh tokens of API sessions. The session row is the family: killing it
-- kills every token here. Only SHA-256 hashes of tokens are stored. When a
-- token is spent, the random nonce its successor was derived from is kept
-- (`successor_nonce`), so a replay inside REFRESH_REUSE_GRACE can return the
-- same successor without the successor ever being stored in the clear: it is
-- HMAC(refresh key, session, parent, nonce) and the key is not in this table.
CREATE TABLE refresh_tokens (
    id              uuid PRIMARY KEY,
    session_id      uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash      bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL,
    spent_at        timestamptz,
    successor_nonce bytea
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
