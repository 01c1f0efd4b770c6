//! `session_state`: the actix-session state of browsers, keyed by SHA-256 of
//! the cookie's session key (the key itself is never stored). Used by
//! `auth::http::session_store`; `session_id` lets a revocation drop the state too.

use super::schema::session_state;
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

/// The state text of an unexpired row, and when it expires.
pub async fn load(
    conn: &mut DbConn,
    key_hash: &[u8],
    now: OffsetDateTime,
) -> QueryResult<Option<(String, OffsetDateTime)>> {
    session_state::table
        .filter(session_state::key_hash.eq(key_hash))
        .filter(session_state::expires_at.gt(now))
        .select((session_state::state, session_state::expires_at))
        .first(conn)
        .await
        .optional()
}

pub async fn insert(
    conn: &mut DbConn,
    key_hash: &[u8],
    session_id: Option<Uuid>,
    state: &str,
    expires_at: OffsetDateTime,
) -> QueryResult<()> {
    diesel::insert_into(session_state::table)
        .values((
            session_state::key_hash.eq(key_hash),
            session_state::session_id.eq(session_id),
            session_state::state.eq(state),
            session_state::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the state of an unexpired row; returns how many rows changed (0 or 1).
pub async fn update(
    conn: &mut DbConn,
    key_hash: &[u8],
    session_id: Option<Uuid>,
    state: &str,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> QueryResult<usize> {
    diesel::update(
        session_state::table
            .filter(session_state::key_hash.eq(key_hash))
            .filter(session_state::expires_at.gt(now)),
    )
    .set((
        session_state::session_id.eq(session_id),
        session_state::state.eq(state),
        session_state::expires_at.eq(expires_at),
    ))
    .execute(conn)
    .await
}

pub async fn set_expiry(
    conn: &mut DbConn,
    key_hash: &[u8],
    expires_at: OffsetDateTime,
) -> QueryResult<()> {
    diesel::update(session_state::table.filter(session_state::key_hash.eq(key_hash)))
        .set(session_state::expires_at.eq(expires_at))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &mut DbConn, key_hash: &[u8]) -> QueryResult<()> {
    diesel::delete(session_state::table.filter(session_state::key_hash.eq(key_hash)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the cookie state of the given sessions (part of revocation).
pub async fn delete_for_sessions(conn: &mut DbConn, ids: &[Uuid]) -> QueryResult<usize> {
    diesel::delete(session_state::table.filter(session_state::session_id.eq_any(ids)))
        .execute(conn)
        .await
}

/// Deletes expired state rows (periodic purge).
pub async fn purge_expired(conn: &mut DbConn, now: OffsetDateTime) -> QueryResult<usize> {
    diesel::delete(session_state::table.filter(session_state::expires_at.le(now)))
        .execute(conn)
        .await
}
