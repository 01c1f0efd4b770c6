-- A mail that cannot be delivered (a permanent SMTP error, an address the
-- mailer refuses, too many attempts, or a link that died before delivery) is
-- given up: failed_at is set and no sender claims it again.
ALTER TABLE mail_outbox ADD COLUMN failed_at timestamptz;
DROP INDEX mail_outbox_due_idx;
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
-- Bodies hold single-use links: once a mail is delivered or given up its
-- body is blanked, so no link token stays in clear in the database (or in a
-- backup of it).
UPDATE mail_outbox SET body_text = '', body_html = '' WHERE sent_at IS NOT NULL;
