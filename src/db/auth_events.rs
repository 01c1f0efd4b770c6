//! `auth_events`: an append-only audit trail (logins, logouts, revocations,
//! password changes, refresh-token reuse).

use super::schema::auth_events;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
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

pub async fn record(conn: &mut AsyncPgConnection, event: NewEvent<'_>) -> QueryResult<()> {
    diesel::insert_into(auth_events::table)
        .values(&event)
        .execute(conn)
        .await?;
    Ok(())
}

/// Kinds of events recorded for a user, oldest first (tests and audits).
pub async fn kinds_for_user(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Vec<String>> {
    auth_events::table
        .filter(auth_events::user_id.eq(user))
        .order(auth_events::id.asc())
        .select(auth_events::kind)
        .load(conn)
        .await
}
