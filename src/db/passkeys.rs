//! `passkeys` and `webauthn_challenges`.

use super::schema::{passkeys, webauthn_challenges};
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub credential_id: Vec<u8>,
    pub passkey: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = passkeys)]
pub struct NewPasskey<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: &'a str,
    pub credential_id: &'a [u8],
    pub passkey: &'a str,
    pub created_at: OffsetDateTime,
}

/// Stores a new passkey; `false` when its credential id is already
/// registered (to anyone): nothing stored.
pub async fn insert(conn: &mut DbConn, new: &NewPasskey<'_>) -> QueryResult<bool> {
    let n = diesel::insert_into(passkeys::table)
        .values(new)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// The user's passkeys, oldest first.
pub async fn for_user(conn: &mut DbConn, user_id: Uuid) -> QueryResult<Vec<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order(passkeys::created_at.asc())
        .select(PasskeyRow::as_select())
        .load(conn)
        .await
}

pub async fn count_for_user(conn: &mut DbConn, user_id: Uuid) -> QueryResult<i64> {
    passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .count()
        .get_result(conn)
        .await
}

pub async fn find_by_credential(
    conn: &mut DbConn,
    credential_id: &[u8],
) -> QueryResult<Option<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::credential_id.eq(credential_id))
        .select(PasskeyRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Records a use: the updated record (signature counter) and when.
pub async fn record_use(
    conn: &mut DbConn,
    id: Uuid,
    passkey: &str,
    now: OffsetDateTime,
) -> QueryResult<()> {
    diesel::update(passkeys::table.find(id))
        .set((
            passkeys::passkey.eq(passkey),
            passkeys::last_used_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes every passkey of the user; how many there were.
pub async fn delete_all_for_user(conn: &mut DbConn, user_id: Uuid) -> QueryResult<usize> {
    diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id)))
        .execute(conn)
        .await
}

/// Deletes the user's passkey `id`; its name, or `None` if it is not theirs.
pub async fn delete_for_user(
    conn: &mut DbConn,
    user_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<String>> {
    diesel::delete(
        passkeys::table
            .filter(passkeys::id.eq(id))
            .filter(passkeys::user_id.eq(user_id)),
    )
    .returning(passkeys::name)
    .get_result(conn)
    .await
    .optional()
}

pub async fn insert_challenge(
    conn: &mut DbConn,
    challenge_hash: &[u8],
    purpose: &str,
    user_id: Option<Uuid>,
    state: &str,
    expires_at: OffsetDateTime,
) -> QueryResult<()> {
    diesel::insert_into(webauthn_challenges::table)
        .values((
            webauthn_challenges::challenge_hash.eq(challenge_hash),
            webauthn_challenges::purpose.eq(purpose),
            webauthn_challenges::user_id.eq(user_id),
            webauthn_challenges::state.eq(state),
            webauthn_challenges::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the live ceremony with this challenge, for this purpose and user:
/// deleted by the one call that gets it (single use).
pub async fn take_challenge(
    conn: &mut DbConn,
    challenge_hash: &[u8],
    purpose: &str,
    user_id: Option<Uuid>,
    now: OffsetDateTime,
) -> QueryResult<Option<String>> {
    let row: Option<(String, Option<Uuid>, OffsetDateTime)> = diesel::delete(
        webauthn_challenges::table
            .filter(webauthn_challenges::challenge_hash.eq(challenge_hash))
            .filter(webauthn_challenges::purpose.eq(purpose)),
    )
    .returning((
        webauthn_challenges::state,
        webauthn_challenges::user_id,
        webauthn_challenges::expires_at,
    ))
    .get_result(conn)
    .await
    .optional()?;
    Ok(row
        .filter(|(_, owner, expires)| *owner == user_id && *expires > now)
        .map(|(state, _, _)| state))
}

/// Drops ceremonies nobody finished.
pub async fn delete_expired_challenges(
    conn: &mut DbConn,
    now: OffsetDateTime,
) -> QueryResult<usize> {
    diesel::delete(webauthn_challenges::table.filter(webauthn_challenges::expires_at.le(now)))
        .execute(conn)
        .await
}
