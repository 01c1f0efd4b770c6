//! `refresh_tokens`: the refresh tokens of API sessions, stored as SHA-256
//! hashes. The session row is the family. Policy lives in
//! `auth::tokens::refresh`.

use super::schema::{refresh_tokens, sessions};
use super::sessions::SessionRow;
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: Uuid,
    pub session_id: Uuid,
    pub spent_at: Option<OffsetDateTime>,
    pub successor_nonce: Option<Vec<u8>>,
}

pub async fn insert(
    conn: &mut DbConn,
    session_id: Uuid,
    token_hash: &[u8],
    now: OffsetDateTime,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(Uuid::now_v7()),
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::created_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The token with this hash and its session, both rows locked for the rest
/// of the transaction (one round trip).
pub async fn find_with_session_for_update(
    conn: &mut DbConn,
    token_hash: &[u8],
) -> QueryResult<Option<(RefreshToken, SessionRow)>> {
    refresh_tokens::table
        .inner_join(sessions::table)
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((RefreshToken::as_select(), SessionRow::as_select()))
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// One rotation in one round trip: marks `spent` spent (keeping the nonce its
/// successor was derived from), inserts the successor's hash, and records the
/// activity on the session (last seen, idle expiry).
pub async fn spend(
    conn: &mut DbConn,
    spent: &RefreshToken,
    successor_nonce: &[u8],
    successor_hash: &[u8],
    now: OffsetDateTime,
    idle_expires_at: OffsetDateTime,
) -> QueryResult<()> {
    use diesel::sql_types::{Bytea, Timestamptz, Uuid as SqlUuid};
    diesel::sql_query(
        "WITH spent AS ( \
             UPDATE refresh_tokens SET spent_at = $1, successor_nonce = $2 WHERE id = $3 \
         ), successor AS ( \
             INSERT INTO refresh_tokens (id, session_id, token_hash, created_at) \
             VALUES ($4, $5, $6, $1) \
         ) \
         UPDATE sessions SET last_seen_at = $1, idle_expires_at = $7 \
         WHERE id = $5 AND revoked_at IS NULL",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Bytea, _>(successor_nonce)
    .bind::<SqlUuid, _>(spent.id)
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<SqlUuid, _>(spent.session_id)
    .bind::<Bytea, _>(successor_hash)
    .bind::<Timestamptz, _>(idle_expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The session a token belongs to.
pub async fn session_of(conn: &mut DbConn, token_hash: &[u8]) -> QueryResult<Option<Uuid>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(refresh_tokens::session_id)
        .first(conn)
        .await
        .optional()
}

/// Clears successor nonces of tokens spent before `spent_before`.
pub async fn clear_nonces(conn: &mut DbConn, spent_before: OffsetDateTime) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::successor_nonce.is_not_null())
            .filter(refresh_tokens::spent_at.lt(spent_before)),
    )
    .set(refresh_tokens::successor_nonce.eq(None::<Vec<u8>>))
    .execute(conn)
    .await
}

/// Deletes refresh tokens whose session is revoked or past its expiry.
pub async fn delete_of_dead_sessions(conn: &mut DbConn, now: OffsetDateTime) -> QueryResult<usize> {
    let dead = sessions::table
        .filter(
            sessions::revoked_at
                .is_not_null()
                .or(sessions::idle_expires_at.le(now))
                .or(sessions::absolute_expires_at.le(now)),
        )
        .select(sessions::id);
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq_any(dead)))
        .execute(conn)
        .await
}
