//! `api_keys` rows: what only a key has (its name, hash, first characters,
//! last use). The rest of a key is its `sessions` row of kind `key`: its
//! user, scope, creation, expiry (`absolute_expires_at`) and revocation.

use super::schema::{api_keys, sessions};
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub key_hash: &'a [u8],
    pub start: &'a str,
}

pub async fn insert(conn: &mut DbConn, new: &NewApiKey<'_>) -> QueryResult<()> {
    diesel::insert_into(api_keys::table)
        .values(new)
        .execute(conn)
        .await?;
    Ok(())
}

/// A key as its owner sees it: its own row and what its session row holds.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub start: String,
    pub last_used_at: Option<OffsetDateTime>,
    #[diesel(select_expression = sessions::user_id)]
    pub user_id: Uuid,
    #[diesel(select_expression = sessions::scope)]
    pub scope: String,
    #[diesel(select_expression = sessions::created_at)]
    pub created_at: OffsetDateTime,
    #[diesel(select_expression = sessions::absolute_expires_at)]
    pub expires_at: OffsetDateTime,
    #[diesel(select_expression = sessions::revoked_at)]
    pub revoked_at: Option<OffsetDateTime>,
}

/// The user's keys that are neither revoked nor expired, newest first.
pub async fn live_for_user(
    conn: &mut DbConn,
    user_id: Uuid,
    now: OffsetDateTime,
) -> QueryResult<Vec<ApiKeyRow>> {
    api_keys::table
        .inner_join(sessions::table)
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::absolute_expires_at.gt(now))
        .order(sessions::created_at.desc())
        .select(ApiKeyRow::as_select())
        .load(conn)
        .await
}

/// The key whose hash is `hash`, whatever its state.
pub async fn find_by_hash(conn: &mut DbConn, hash: &[u8]) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table
        .inner_join(sessions::table)
        .filter(api_keys::key_hash.eq(hash))
        .select(ApiKeyRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// One key of `user_id` (none for another user's id).
pub async fn find_for_user(
    conn: &mut DbConn,
    user_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table
        .inner_join(sessions::table)
        .filter(api_keys::id.eq(id))
        .filter(sessions::user_id.eq(user_id))
        .select(ApiKeyRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Records a use, kept to the minute: written only when the stored value is
/// older than `now` minus a minute (or unset).
pub async fn touch(conn: &mut DbConn, id: Uuid, now: OffsetDateTime) -> QueryResult<()> {
    let minute_ago = now - time::Duration::minutes(1);
    diesel::update(
        api_keys::table.filter(api_keys::id.eq(id)).filter(
            api_keys::last_used_at
                .is_null()
                .or(api_keys::last_used_at.lt(minute_ago)),
        ),
    )
    .set(api_keys::last_used_at.eq(now))
    .execute(conn)
    .await?;
    Ok(())
}
