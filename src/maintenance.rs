//! Background jobs and housekeeping. Every instance runs the jobs; each is
//! safe to run concurrently on several instances.
//!
//! * purge (PURGE_INTERVAL, and `hybrid-auth purge`): deletes expired and
//!   dead rows so the tables stay small;
//! * key reload (every minute): picks up signing keys rotated elsewhere;
//! * nonce scrub (every few seconds): clears refresh-successor nonces once
//!   their grace window has passed;
//! * mail sender: delivers the outbox (`mail::sender`).

use crate::auth::credentials::throttle;
use crate::auth::tokens::{access as access_tokens, refresh as refresh_tokens};
use crate::auth::AppState;
use crate::db::mail_outbox;
use crate::db::DbConn;
use crate::db::{self, refresh_tokens as refresh_rows, session_state, sessions};
use actix_web::web;
use diesel::QueryResult;
use std::future::Future;
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};

/// Dead sessions are kept this long for the account history and audits.
pub const SESSION_RETENTION: Duration = Duration::days(7);

#[derive(Debug, Default)]
pub struct Purged {
    pub refresh_tokens: usize,
    pub session_state: usize,
    pub login_failures: usize,
    pub sessions: usize,
    pub account_tokens: usize,
    pub mails: usize,
}

/// `grace` is REFRESH_REUSE_GRACE: successor nonces younger than that are kept.
pub async fn purge(conn: &mut DbConn, now: OffsetDateTime, grace: Duration) -> QueryResult<Purged> {
    let refresh_tokens = refresh_rows::delete_of_dead_sessions(conn, now).await?;
    refresh_tokens::scrub_nonces(conn, now, grace).await?;
    let session_state = session_state::purge_expired(conn, now).await?;
    let login_failures = throttle::purge_old(conn, now).await?;
    crate::db::passkeys::delete_expired_challenges(conn, now).await?;
    crate::db::oidc::delete_expired(conn, now).await?;
    let sessions = sessions::delete_dead_before(conn, now - SESSION_RETENTION).await?;
    crate::db::service_clients::delete_units_before(conn, now - SESSION_RETENTION).await?;
    let account_tokens = crate::db::account_tokens::delete_expired_before(conn, now).await?;
    // Delivered mail is kept a while for support questions ("did it go out?").
    let mails = mail_outbox::delete_sent_before(conn, now - SESSION_RETENTION).await?;
    Ok(Purged {
        refresh_tokens,
        session_state,
        login_failures,
        sessions,
        account_tokens,
        mails,
    })
}

/// Runs `job` every `period` with a pooled connection, logging failures.
fn every<F, Fut>(state: web::Data<AppState>, period: StdDuration, what: &'static str, job: F)
where
    F: Fn(web::Data<AppState>, db::PgConn) -> Fut + 'static,
    Fut: Future<Output = anyhow::Result<()>> + 'static,
{
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tick.tick().await;
            match db::conn(&state.pool).await {
                Ok(conn) => {
                    if let Err(e) = job(state.clone(), conn).await {
                        tracing::warn!(error = %e, "{what} failed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "{what}: database unavailable"),
            }
        }
    });
}

/// Starts the background jobs of one instance.
pub fn spawn_jobs(state: web::Data<AppState>) {
    actix_web::rt::spawn(crate::mail::sender::run(
        state.pool.clone(),
        state.clock.clone(),
        state.mailer.clone(),
    ));
    // Key changes announced by another process (CLI, other instance): reload
    // at once, not at the next periodic reload.
    let keys_state = state.clone();
    actix_web::rt::spawn(async move {
        let changed = keys_state.revocations.keys_changed();
        loop {
            changed.notified().await;
            match db::conn(&keys_state.pool).await {
                Ok(mut conn) => {
                    if let Err(e) = access_tokens::reload_keys(&keys_state, &mut conn).await {
                        tracing::warn!(error = %e, "reloading signing keys failed");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reloading signing keys: database unavailable")
                }
            }
        }
    });
    every(
        state.clone(),
        StdDuration::from_secs(60),
        "reloading signing keys",
        |state, mut conn| async move { access_tokens::reload_keys(&state, &mut conn).await },
    );
    // Successor nonces live for the grace window only (see auth::tokens::refresh).
    let grace = state.settings.refresh_reuse_grace;
    let scrub_period = StdDuration::from_secs(grace.whole_seconds().clamp(1, 5) as u64);
    every(
        state.clone(),
        scrub_period,
        "clearing refresh nonces",
        move |state, mut conn| async move {
            refresh_tokens::scrub_nonces(&mut conn, state.clock.now(), grace).await?;
            Ok(())
        },
    );
    let purge_every = state.settings.purge_interval;
    if purge_every > Duration::ZERO {
        let period = StdDuration::from_secs(purge_every.whole_seconds().max(1) as u64);
        every(state, period, "purge", |state, mut conn| async move {
            let now = state.clock.now();
            let purged = purge(&mut conn, now, state.settings.refresh_reuse_grace).await?;
            tracing::debug!(?purged, "purged expired rows");
            Ok(())
        });
    }
}
