//! `auth_events`: an append-only audit trail (logins, logouts, revocations,
//! password changes, refresh-token reuse).

use super::schema::auth_events;
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Insertable)]
#[diesel(table_name = auth_events)]
pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub ip: &'a str,
    pub detail: &'a str,
    pub created_at: OffsetDateTime,
}

/// Deletes every event of a user (account deletion).
pub async fn delete_for_user(conn: &mut DbConn, user: Uuid) -> QueryResult<usize> {
    diesel::delete(auth_events::table.filter(auth_events::user_id.eq(user)))
        .execute(conn)
        .await
}

pub async fn record(conn: &mut DbConn, event: NewEvent<'_>) -> QueryResult<()> {
    diesel::insert_into(auth_events::table)
        .values(&event)
        .execute(conn)
        .await?;
    Ok(())
}

/// Kinds of events recorded for a user, oldest first (tests and audits).
pub async fn kinds_for_user(conn: &mut DbConn, user: Uuid) -> QueryResult<Vec<String>> {
    auth_events::table
        .filter(auth_events::user_id.eq(user))
        .order(auth_events::id.asc())
        .select(auth_events::kind)
        .load(conn)
        .await
}

/// An event as the account page shows it, with the device of its session
/// (when the event belongs to one that still exists).
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct RecentEvent {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub detail: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub ip: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub created_at: OffsetDateTime,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub user_agent: Option<String>,
}

/// The user's `limit` most recent events, newest first.
pub async fn recent_for_user(
    conn: &mut DbConn,
    user: Uuid,
    limit: i64,
) -> QueryResult<Vec<RecentEvent>> {
    diesel::sql_query(
        "SELECT e.kind, e.detail, e.ip, e.created_at, s.user_agent \
         FROM auth_events e LEFT JOIN sessions s ON s.id = e.session_id \
         WHERE e.user_id = $1 ORDER BY e.id DESC LIMIT $2",
    )
    .bind::<diesel::sql_types::Uuid, _>(user)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await
}
