-- How a session was authenticated: its assurance level (1 or 2), the RFC
-- 8176 methods proven (space-separated: pwd, otp, hwk, mfa) and when the
-- user last signed in or re-authenticated. Every access token copies them
-- (acr, amr, auth_time). Existing sessions were password sign-ins.
ALTER TABLE sessions ADD COLUMN aal smallint NOT NULL DEFAULT 1 CHECK (aal IN (1, 2));
ALTER TABLE sessions ADD COLUMN amr text NOT NULL DEFAULT 'pwd';
ALTER TABLE sessions ADD COLUMN auth_time timestamptz;
UPDATE sessions SET auth_time = created_at;
ALTER TABLE sessions ALTER COLUMN auth_time SET NOT NULL;
