//! `sessions` rows: the revocation unit. Revoking goes through
//! `auth::sessions::revoke`, which is the only writer of `revoked_at`.

use super::schema::{sessions, users};
use super::users::User;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub scope: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub idle_expires_at: OffsetDateTime,
    pub absolute_expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub revoked_reason: Option<String>,
    pub user_agent: String,
    pub ip: String,
}

impl SessionRow {
    /// Not revoked and inside both its idle and absolute expiry.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.idle_expires_at && now < self.absolute_expires_at
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: &'a str,
    pub scope: &'a str,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub idle_expires_at: OffsetDateTime,
    pub absolute_expires_at: OffsetDateTime,
    pub user_agent: &'a str,
    pub ip: &'a str,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewSession<'_>) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(new)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<SessionRow>> {
    sessions::table
        .find(id)
        .select(SessionRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The session and its user, in one round trip.
pub async fn find_with_user(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<(SessionRow, User)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(id))
        .select((SessionRow::as_select(), User::as_select()))
        .first(conn)
        .await
        .optional()
}

/// Records activity: moves `last_seen_at` and the idle expiry (never past the
/// absolute expiry). Skipped for revoked rows.
pub async fn touch(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    now: OffsetDateTime,
    idle_expires_at: OffsetDateTime,
) -> QueryResult<()> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::last_seen_at.eq(now),
        sessions::idle_expires_at.eq(idle_expires_at),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Every live session of a user, newest first.
pub async fn live_for_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    now: OffsetDateTime,
) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::idle_expires_at.gt(now))
        .filter(sessions::absolute_expires_at.gt(now))
        .order(sessions::created_at.desc())
        .select(SessionRow::as_select())
        .load(conn)
        .await
}
