//! The outbox sender: every instance runs one. It claims due rows with
//! `FOR UPDATE SKIP LOCKED` (so instances never send one mail twice),
//! delivers them, and reschedules failures with `backoff`.

use super::Mailer;
use crate::clock::Clock;
use crate::db::{self, mail_outbox, DbError, PgPool};
use crate::metrics;
use diesel_async::AsyncConnection;
use std::sync::Arc;
use std::time::Duration as StdDuration;

/// Attempts after which a failing mail is given up (with the backoff capped
/// at an hour, about ten hours of trying).
pub const MAX_ATTEMPTS: i32 = 20;

/// Delivers every due mail; returns how many were claimed. A mail that
/// fails permanently (an address the mailer refuses, an SMTP 5xx), fails
/// `MAX_ATTEMPTS` times, or outlives its link is given up: marked failed,
/// its body blanked, counted as `result="given_up"`.
pub async fn deliver_due(pool: &PgPool, clock: &Clock, mailer: &Mailer) -> Result<usize, DbError> {
    let mut conn = db::conn(pool).await?;
    let now = clock.now();
    let claimed = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let due = mail_outbox::claim_due(conn, now, 10).await?;
            for mail in &due {
                if now - mail.created_at > mailer.max_age {
                    // Its link has died: sending it would only disappoint.
                    tracing::warn!(mail = mail.id, "mail given up: its link expired before delivery");
                    mail_outbox::mark_given_up(conn, mail.id, "expired before delivery", now).await?;
                    metrics::inc(metrics::MAILS, &[("result", "given_up")]);
                    continue;
                }
                match mailer.deliver(mail).await {
                    Ok(()) => {
                        mail_outbox::mark_sent(conn, mail.id, now).await?;
                        metrics::inc(metrics::MAILS, &[("result", "sent")]);
                    }
                    Err(e) if e.permanent || mail.attempts + 1 >= MAX_ATTEMPTS => {
                        tracing::warn!(mail = mail.id, attempts = mail.attempts + 1, error = %e, "mail given up");
                        mail_outbox::mark_given_up(conn, mail.id, &format!("{e:#}"), now).await?;
                        metrics::inc(metrics::MAILS, &[("result", "given_up")]);
                    }
                    Err(e) => {
                        let next = now + super::backoff(mail.attempts + 1);
                        tracing::warn!(mail = mail.id, attempts = mail.attempts + 1, error = %e, "mail not delivered; will retry");
                        mail_outbox::mark_failed(conn, mail.id, &format!("{e:#}"), next).await?;
                        metrics::inc(metrics::MAILS, &[("result", "failed")]);
                    }
                }
            }
            Ok(due.len())
        })
        .await?;
    Ok(claimed)
}

/// The sender loop of one instance: on a wake-up (a mail queued here) or
/// every second, deliver what is due.
pub async fn run(pool: PgPool, clock: Clock, mailer: Arc<Mailer>) {
    let wakeup = mailer.wakeup.clone();
    loop {
        let _ = tokio::time::timeout(StdDuration::from_secs(1), wakeup.notified()).await;
        loop {
            match deliver_due(&pool, &clock, &mailer).await {
                Ok(10) => continue, // a full batch: there may be more
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "mail sender: database unavailable");
                    break;
                }
            }
        }
    }
}
