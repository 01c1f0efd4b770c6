//! Suspending a person (operators: `user disable` / `user enable`). A
//! disable revokes every session and API key of the user through the one
//! revocation path (so every instance refuses them at once) and marks the
//! account, after which every sign-in fails exactly as a wrong password
//! does (`check_password`), and no session can be created (`sessions::create`
//! reads the mark under the user-row lock).

use crate::auth::events::{AuthEvent, RevokeReason};
use crate::auth::sessions::revocation::RevocationView;
use crate::auth::sessions::{revoke_with, Target};
use crate::clock::Clock;
use crate::db::auth_events::{self, NewEvent};
use crate::db::{users, DbConn};
use diesel::QueryResult;
use diesel_async::AsyncConnection;
use uuid::Uuid;

/// Suspends the account; how many sessions and keys ended (`None`: no such
/// user).
pub async fn disable(
    view: &RevocationView,
    clock: &Clock,
    conn: &mut DbConn,
    user_id: Uuid,
) -> QueryResult<Option<usize>> {
    let now = clock.now();
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        if users::find_for_update(conn, user_id).await?.is_none() {
            return Ok(None);
        }
        users::set_disabled(conn, user_id, Some(now)).await?;
        record(conn, AuthEvent::AccountDisabled, user_id, now).await?;
        let everything = Target::Everything { user_id };
        let ended = revoke_with(
            view,
            clock,
            conn,
            everything,
            RevokeReason::AccountDisabled,
            "",
        )
        .await?;
        Ok(Some(ended.len()))
    })
    .await
}

/// Lifts the suspension; `false` when there is no such user.
pub async fn enable(clock: &Clock, conn: &mut DbConn, user_id: Uuid) -> QueryResult<bool> {
    let now = clock.now();
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        if !users::set_disabled(conn, user_id, None).await? {
            return Ok(false);
        }
        record(conn, AuthEvent::AccountEnabled, user_id, now).await?;
        Ok(true)
    })
    .await
}

async fn record(
    conn: &mut DbConn,
    kind: AuthEvent,
    user_id: Uuid,
    now: time::OffsetDateTime,
) -> QueryResult<()> {
    auth_events::record(
        conn,
        NewEvent {
            kind: kind.as_str(),
            user_id: Some(user_id),
            session_id: None,
            ip: "",
            detail: "operator",
            created_at: now,
        },
    )
    .await
}
