//! Mail through a transactional outbox. This module knows nothing of auth:
//! callers hand it an `Outgoing` mail, it queues and delivers it.
//!
//! * `enqueue` inserts a mail row with the caller's connection, so it commits
//!   or rolls back with whatever caused it; no request ever waits for SMTP.
//! * `sender` (every instance) claims due rows with `FOR UPDATE SKIP LOCKED`,
//!   delivers them, and on failure records the error and retries with
//!   exponential backoff (2 s, 4 s, … at most an hour): an SMTP outage delays
//!   mail, it loses none.
//! * `transport`: SMTP when MAIL_URL is set (`smtp://` plain, for a local
//!   relay; `smtp+starttls://`; `smtps://`), otherwise `.eml` files in
//!   MAIL_OUTBOX_DIR plus a log line with the link, so `cargo run` needs no
//!   mail server (that log line is for development: it contains the link).

pub mod sender;
pub mod transport;

pub use transport::Mailer;

use crate::db::mail_outbox::{self, NewMail};
use crate::db::DbConn;
use diesel::QueryResult;
use time::{Duration, OffsetDateTime};

/// A mail to queue: subject and both bodies.
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Queues `mail` on `conn` (inside the caller's transaction).
pub async fn enqueue(conn: &mut DbConn, mail: &Outgoing, now: OffsetDateTime) -> QueryResult<()> {
    mail_outbox::insert(
        conn,
        &NewMail {
            recipient: &mail.to,
            subject: &mail.subject,
            body_text: &mail.text,
            body_html: &mail.html,
            created_at: now,
            next_attempt_at: now,
        },
    )
    .await
}

/// Seconds until the next attempt after `attempts` failed ones.
pub fn backoff(attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 12)).unwrap_or(12);
    Duration::seconds(2i64.pow(exp).min(3_600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::seconds(2));
        assert_eq!(backoff(3), Duration::seconds(8));
        assert_eq!(backoff(50), Duration::seconds(3_600));
    }
}
