-- Refresh tokens of API sessions. The session row is the family: killing it
-- kills every token here. Only SHA-256 hashes of tokens are stored. When a
-- token is spent, the random nonce its successor was derived from is kept
-- (`successor_nonce`) for REFRESH_REUSE_GRACE only, so a replay inside the
-- grace window can return the same successor, HMAC(refresh key, session,
-- parent, nonce), which is never stored. After the window the nonce is
-- cleared.
CREATE TABLE refresh_tokens (
    id              uuid PRIMARY KEY,
    session_id      uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash      bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL,
    spent_at        timestamptz,
    successor_nonce bytea
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
