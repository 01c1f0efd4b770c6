//! Creating, checking and revoking sessions: the one revocation model.
//! Logout, "revoke" buttons, "log out other sessions", password changes,
//! refresh-token reuse and the revoke endpoints all call `revoke`.

use super::client::ClientInfo;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::events::{self, NewEvent};
use crate::db::schema::sessions;
use crate::db::sessions::{self as rows, NewSession, SessionRow};
use crate::db::users::User;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Postgres channel on which revocations are announced to every instance.
pub const REVOKED_CHANNEL: &str = "session_revoked";

/// `last_seen_at` is written at most this often per session.
pub const TOUCH_INTERVAL: Duration = Duration::minutes(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Web,
    Api,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Web => "web",
            Kind::Api => "api",
        }
    }
}

/// Idle lifetime of a session of this kind: web sessions use
/// SESSION_IDLE_TIMEOUT, API refresh families REFRESH_TOKEN_TTL.
pub fn idle_timeout(settings: &Settings, kind: &str) -> Duration {
    if kind == "api" {
        settings.refresh_token_ttl
    } else {
        settings.session_idle_timeout
    }
}

/// Creates a session row for `user` and records the login, provided the
/// user's password hash is still `user.password_hash` (the one just
/// verified): a password change that commits while argon2 ran must not be
/// outlived by a session opened with the old password. `None` if it changed.
pub async fn create(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    clock: &Clock,
    user: &User,
    kind: Kind,
    scope: &str,
    client: &ClientInfo,
) -> QueryResult<Option<SessionRow>> {
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let current: Option<String> = crate::db::schema::users::table
            .find(user.id)
            .select(crate::db::schema::users::password_hash)
            .for_update()
            .first(conn)
            .await
            .optional()?;
        if current.as_deref() != Some(user.password_hash.as_str()) {
            return Ok(None);
        }
        insert_session(conn, settings, clock, user, kind, scope, client)
            .await
            .map(Some)
    })
    .await
}

async fn insert_session(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    clock: &Clock,
    user: &User,
    kind: Kind,
    scope: &str,
    client: &ClientInfo,
) -> QueryResult<SessionRow> {
    let now = clock.now();
    let absolute = now + settings.session_absolute_timeout;
    let idle = (now + idle_timeout(settings, kind.as_str())).min(absolute);
    let new = NewSession {
        id: Uuid::now_v7(),
        user_id: user.id,
        kind: kind.as_str(),
        scope,
        created_at: now,
        last_seen_at: now,
        idle_expires_at: idle,
        absolute_expires_at: absolute,
        user_agent: &client.user_agent,
        ip: &client.ip,
    };
    rows::insert(conn, &new).await?;
    events::record(
        conn,
        NewEvent {
            kind: "login_ok",
            user_id: Some(user.id),
            session_id: Some(new.id),
            ip: &client.ip,
            detail: kind.as_str(),
            created_at: now,
        },
    )
    .await?;
    rows::find(conn, new.id)
        .await?
        .ok_or(diesel::result::Error::NotFound)
}

/// Moves last-seen and the idle expiry, at most once per `TOUCH_INTERVAL`.
pub async fn touch_if_stale(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    session: &SessionRow,
    now: OffsetDateTime,
) -> QueryResult<()> {
    if now - session.last_seen_at < TOUCH_INTERVAL {
        return Ok(());
    }
    let idle = (now + idle_timeout(settings, &session.kind)).min(session.absolute_expires_at);
    rows::touch(conn, session.id, now, idle).await
}

/// Which sessions to revoke.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    One(Uuid),
    /// Every session of the user except `keep` (if given).
    AllOfUser {
        user_id: Uuid,
        keep: Option<Uuid>,
    },
}

/// Revokes sessions: marks the rows, drops their cookie state, announces each
/// id on `REVOKED_CHANNEL` (delivered at commit) and records an event.
/// Returns the ids that were live before. Idempotent.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    target: Target,
    reason: &'static str,
    now: OffsetDateTime,
    ip: &str,
) -> QueryResult<Vec<Uuid>> {
    let ip = ip.to_owned();
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let set = (
            sessions::revoked_at.eq(now),
            sessions::revoked_reason.eq(reason),
        );
        let live = sessions::revoked_at.is_null();
        let revoked: Vec<(Uuid, Uuid)> = match target {
            Target::One(id) => {
                diesel::update(sessions::table.filter(sessions::id.eq(id)).filter(live))
                    .set(set)
                    .returning((sessions::id, sessions::user_id))
                    .get_results(conn)
                    .await?
            }
            Target::AllOfUser { user_id, keep } => {
                let keep = keep.unwrap_or_else(Uuid::nil);
                diesel::update(
                    sessions::table
                        .filter(sessions::user_id.eq(user_id))
                        .filter(sessions::id.ne(keep))
                        .filter(live),
                )
                .set(set)
                .returning((sessions::id, sessions::user_id))
                .get_results(conn)
                .await?
            }
        };
        let ids: Vec<Uuid> = revoked.iter().map(|(id, _)| *id).collect();
        if ids.is_empty() {
            return Ok(ids);
        }
        super::session_store::delete_for_sessions(conn, &ids).await?;
        for (id, user_id) in &revoked {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<diesel::sql_types::Text, _>(REVOKED_CHANNEL)
                .bind::<diesel::sql_types::Text, _>(id.to_string())
                .execute(conn)
                .await?;
            events::record(
                conn,
                NewEvent {
                    kind: "session_revoked",
                    user_id: Some(*user_id),
                    session_id: Some(*id),
                    ip: &ip,
                    detail: reason,
                    created_at: now,
                },
            )
            .await?;
        }
        Ok(ids)
    })
    .await
}
