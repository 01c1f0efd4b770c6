//! `sessions` rows: the revocation unit. Revoking goes through
//! `auth::sessions::revoke`, the only caller of `mark_revoked`.

use super::schema::{sessions, users};
use super::users::User;
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
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
    /// Authentication assurance level: 1 or 2.
    pub aal: i16,
    /// RFC 8176 methods proven, space-separated (`pwd`, `otp`, `hwk`, `mfa`).
    pub amr: String,
    /// The last sign-in or re-authentication of this session.
    pub auth_time: OffsetDateTime,
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
    pub aal: i16,
    pub amr: &'a str,
    pub auth_time: OffsetDateTime,
}

pub async fn insert(conn: &mut DbConn, new: &NewSession<'_>) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(new)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find(conn: &mut DbConn, id: Uuid) -> QueryResult<Option<SessionRow>> {
    sessions::table
        .find(id)
        .select(SessionRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The session and its user, in one round trip.
pub async fn find_with_user(
    conn: &mut DbConn,
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
    conn: &mut DbConn,
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
    conn: &mut DbConn,
    user_id: Uuid,
    now: OffsetDateTime,
) -> QueryResult<Vec<SessionRow>> {
    live_for_user_newest(conn, user_id, now, i64::MAX).await
}

/// The kinds that are sign-ins (a browser's or an API client's), as opposed
/// to API keys.
pub const SIGN_IN_KINDS: [&str; 2] = ["web", "api"];

/// How many sign-in sessions are live at `now`, of every user.
pub async fn count_live(conn: &mut DbConn, now: OffsetDateTime) -> QueryResult<i64> {
    sessions::table
        .filter(sessions::kind.eq_any(SIGN_IN_KINDS))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::idle_expires_at.gt(now))
        .filter(sessions::absolute_expires_at.gt(now))
        .count()
        .get_result(conn)
        .await
}

/// The user's `limit` newest live sign-in sessions (keys are listed apart).
pub async fn live_for_user_newest(
    conn: &mut DbConn,
    user_id: Uuid,
    now: OffsetDateTime,
    limit: i64,
) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::kind.eq_any(SIGN_IN_KINDS))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::idle_expires_at.gt(now))
        .filter(sessions::absolute_expires_at.gt(now))
        .order(sessions::created_at.desc())
        .limit(limit)
        .select(SessionRow::as_select())
        .load(conn)
        .await
}

/// Postgres channel on which revoked session ids are announced to every
/// instance (see `auth::sessions::revocation`).
pub const REVOKED_CHANNEL: &str = "session_revoked";

/// Which sessions to revoke.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    One(Uuid),
    /// Every sign-in session of the user (web and API) except `keep` (if
    /// given); the user's API keys stay.
    AllOfUser {
        user_id: Uuid,
        keep: Option<Uuid>,
    },
    /// Every session and every API key of the user: the account is deleted,
    /// suspended, or recovered by a password reset.
    Everything {
        user_id: Uuid,
    },
}

/// Marks the live sessions of `target` revoked; returns `(id, user_id, kind)`
/// of each row that was live. Only `auth::sessions::revoke` calls this.
pub async fn mark_revoked(
    conn: &mut DbConn,
    target: Target,
    reason: &str,
    now: OffsetDateTime,
) -> QueryResult<Vec<(Uuid, Uuid, String)>> {
    let set = (
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(reason),
    );
    let live = sessions::revoked_at.is_null();
    match target {
        Target::One(id) => {
            diesel::update(sessions::table.filter(sessions::id.eq(id)).filter(live))
                .set(set)
                .returning((sessions::id, sessions::user_id, sessions::kind))
                .get_results(conn)
                .await
        }
        Target::AllOfUser { user_id, keep } => {
            let keep = keep.unwrap_or_else(Uuid::nil);
            diesel::update(
                sessions::table
                    .filter(sessions::user_id.eq(user_id))
                    .filter(sessions::kind.eq_any(SIGN_IN_KINDS))
                    .filter(sessions::id.ne(keep))
                    .filter(live),
            )
            .set(set)
            .returning((sessions::id, sessions::user_id, sessions::kind))
            .get_results(conn)
            .await
        }
        Target::Everything { user_id } => {
            diesel::update(
                sessions::table
                    .filter(sessions::user_id.eq(user_id))
                    .filter(live),
            )
            .set(set)
            .returning((sessions::id, sessions::user_id, sessions::kind))
            .get_results(conn)
            .await
        }
    }
}

/// Announces a revoked session id on `REVOKED_CHANNEL` (delivered at commit).
pub async fn notify_revoked(conn: &mut DbConn, id: Uuid) -> QueryResult<()> {
    super::notify(conn, REVOKED_CHANNEL, &id.to_string()).await
}

/// Subscribes this connection to `REVOKED_CHANNEL`.
pub async fn listen_revoked(conn: &mut DbConn) -> QueryResult<()> {
    super::listen(conn, REVOKED_CHANNEL).await
}

/// Revocation units revoked after `since`, with when: sessions (and keys),
/// and the units of disabled service accounts.
pub async fn revoked_since(
    conn: &mut DbConn,
    since: OffsetDateTime,
) -> QueryResult<Vec<(Uuid, OffsetDateTime)>> {
    let rows: Vec<(Uuid, Option<OffsetDateTime>)> = sessions::table
        .filter(sessions::revoked_at.gt(since))
        .select((sessions::id, sessions::revoked_at))
        .load(conn)
        .await?;
    let mut out: Vec<(Uuid, OffsetDateTime)> = rows
        .into_iter()
        .filter_map(|(id, at)| Some((id, at?)))
        .collect();
    out.extend(super::service_clients::units_retired_since(conn, since).await?);
    Ok(out)
}

/// `true` when the unit is revoked or does not exist: a session (or key)
/// row that is revoked or gone, unless the id is the live unit of an
/// enabled service account.
pub async fn is_revoked_or_gone(conn: &mut DbConn, id: Uuid) -> QueryResult<bool> {
    let row: Option<Option<OffsetDateTime>> = sessions::table
        .find(id)
        .select(sessions::revoked_at)
        .first(conn)
        .await
        .optional()?;
    match row {
        Some(revoked) => Ok(revoked.is_some()),
        None => Ok(!super::service_clients::is_live_unit(conn, id).await?),
    }
}

/// The session row, locked for the rest of the transaction.
pub async fn find_for_update(conn: &mut DbConn, id: Uuid) -> QueryResult<Option<SessionRow>> {
    sessions::table
        .find(id)
        .select(SessionRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Deletes sessions that died (revoked or expired) before `cutoff`.
pub async fn delete_dead_before(conn: &mut DbConn, cutoff: OffsetDateTime) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::revoked_at
                .lt(cutoff)
                .or(sessions::absolute_expires_at.lt(cutoff))
                .or(sessions::idle_expires_at.lt(cutoff)),
        ),
    )
    .execute(conn)
    .await
}

/// Sets how a live session was authenticated (re-authentication, a second
/// factor enabled or removed); `false` when the session is no longer live.
pub async fn set_assurance(
    conn: &mut DbConn,
    id: Uuid,
    aal: i16,
    amr: &str,
    auth_time: Option<OffsetDateTime>,
) -> QueryResult<bool> {
    let target = sessions::table
        .filter(sessions::id.eq(id))
        .filter(sessions::revoked_at.is_null());
    let n = match auth_time {
        Some(t) => {
            diesel::update(target)
                .set((
                    sessions::aal.eq(aal),
                    sessions::amr.eq(amr),
                    sessions::auth_time.eq(t),
                ))
                .execute(conn)
                .await?
        }
        None => {
            diesel::update(target)
                .set((sessions::aal.eq(aal), sessions::amr.eq(amr)))
                .execute(conn)
                .await?
        }
    };
    Ok(n == 1)
}
