//! Housekeeping that keeps the tables small: run periodically in the server
//! (PURGE_INTERVAL) and on demand with `hybrid-auth purge`.

use crate::auth::{refresh, session_store, throttle};
use crate::db::schema::sessions;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::{Duration, OffsetDateTime};

/// Dead sessions are kept this long for the account history and audits.
pub const SESSION_RETENTION: Duration = Duration::days(7);

#[derive(Debug, Default)]
pub struct Purged {
    pub refresh_tokens: usize,
    pub session_state: usize,
    pub login_failures: usize,
    pub sessions: usize,
}

/// `grace` is REFRESH_REUSE_GRACE: successor nonces younger than that are kept.
pub async fn purge(
    conn: &mut AsyncPgConnection,
    now: OffsetDateTime,
    grace: Duration,
) -> QueryResult<Purged> {
    let refresh_tokens = refresh::purge_dead(conn, now).await?;
    refresh::scrub_nonces(conn, now, grace).await?;
    let session_state = session_store::purge_expired(conn, now).await?;
    let login_failures = throttle::purge_old(conn, now).await?;
    let cutoff = now - SESSION_RETENTION;
    let sessions = diesel::delete(
        sessions::table.filter(
            sessions::revoked_at
                .lt(cutoff)
                .or(sessions::absolute_expires_at.lt(cutoff))
                .or(sessions::idle_expires_at.lt(cutoff)),
        ),
    )
    .execute(conn)
    .await?;
    Ok(Purged {
        refresh_tokens,
        session_state,
        login_failures,
        sessions,
    })
}
