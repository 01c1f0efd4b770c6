//! What a signed-in user does to their own account: change the password
//! (which ends every other session) and revoke their sessions.

use super::mails::Notice;
use super::notices;
use crate::auth::credentials::login::{check_password, AuthOutcome};
use crate::auth::credentials::password;
use crate::auth::error::AuthError;
use crate::auth::events::{AuthEvent, RevokeReason};
use crate::auth::http::client::ClientInfo;
use crate::auth::http::current_user::CurrentUser;
use crate::auth::sessions::{self, Target};
use crate::auth::state::AppState;
use crate::db;
use crate::db::auth_events::{self, NewEvent};
use crate::db::sessions as session_rows;
use crate::db::users;
use diesel_async::AsyncConnection;
use uuid::Uuid;

pub enum PasswordChange {
    /// Changed; the user's other sessions (this many) were signed out.
    Changed {
        others_signed_out: usize,
    },
    WrongCurrentPassword,
    /// Too many wrong passwords: retry after this many seconds.
    Throttled(u64),
    /// The new password is not acceptable; the message says why.
    Rejected(&'static str),
    /// The session was revoked, or the password changed elsewhere, while
    /// this request ran: nothing was changed.
    Conflict,
}

/// Checks the current password (throttled like a sign-in), then sets the new
/// one, records the event and revokes every other session, all or nothing.
/// The current session is locked and must still be live, and the stored hash
/// must still be the one just verified: a request that raced a revocation or
/// another password change changes nothing.
pub async fn change_password(
    state: &AppState,
    user: &CurrentUser,
    current_password: String,
    new_password: String,
    client: &ClientInfo,
) -> Result<PasswordChange, AuthError> {
    // The user row as it is now, not as cached with the session.
    let fresh = {
        let mut conn = db::conn(&state.pool).await?;
        users::find(&mut conn, user.user.id).await?
    };
    let Some(fresh) = fresh else {
        return Ok(PasswordChange::Conflict);
    };
    let outcome = check_password(
        state,
        &fresh.email,
        Some(fresh.clone()),
        current_password,
        client,
        AuthEvent::PasswordChangeFailed,
    )
    .await?;
    match outcome {
        AuthOutcome::Ok(_) => {}
        AuthOutcome::Throttled(secs) => return Ok(PasswordChange::Throttled(secs)),
        AuthOutcome::Failed => return Ok(PasswordChange::WrongCurrentPassword),
    }
    if let Err(m) = password::check_new(&new_password) {
        return Ok(PasswordChange::Rejected(m));
    }
    let hash = password::hash(&state.hasher, new_password).await?;
    let now = state.clock.now();
    // Compared with the hash just verified (read fresh above), never with the
    // copy cached with the session, which another instance may have changed.
    let (user_id, session_id, verified_hash) =
        (user.user.id, user.session.id, fresh.password_hash.as_str());
    let ip = client.ip.as_str();
    let mut conn = db::conn(&state.pool).await?;
    let changed = conn
        .transaction::<_, AuthError, _>(async |conn| {
            // Locks in the one order every account change uses: the user row,
            // then sessions, then links (a reset does the same), so a change
            // racing a reset waits instead of deadlocking.
            let stored = users::password_hash_for_update(conn, user_id).await?;
            let live = session_rows::find_for_update(conn, session_id)
                .await?
                .is_some_and(|s| s.is_live(now));
            if !live || stored.as_deref() != Some(verified_hash) {
                return Ok(None);
            }
            users::set_password_hash(conn, user_id, &hash, now).await?;
            // A changed password kills every reset link.
            crate::db::account_tokens::delete_for_user(
                conn,
                user_id,
                crate::auth::account::links::RESET,
            )
            .await?;
            let event = NewEvent {
                kind: AuthEvent::PasswordChanged.as_str(),
                user_id: Some(user_id),
                session_id: Some(session_id),
                ip,
                detail: "",
                created_at: now,
            };
            auth_events::record(conn, event).await?;
            let others = Target::AllOfUser {
                user_id,
                keep: Some(session_id),
            };
            let ended =
                sessions::revoke(state, conn, others, RevokeReason::PasswordChange, ip).await?;
            notices::queue(state, conn, &fresh.email, Notice::PasswordChanged, ip).await?;
            Ok(Some(ended.len()))
        })
        .await?;
    if changed.is_some() {
        state.mailer.wakeup.notify_one();
    }
    // This instance's cached copy of the user holds the old hash.
    state.session_cache.forget_session(session_id);
    Ok(match changed {
        Some(others_signed_out) => PasswordChange::Changed { others_signed_out },
        None => PasswordChange::Conflict,
    })
}

/// Revokes one of the user's own sessions. `None` when `id` is not one of
/// theirs (unknown or another user's: the caller answers 404 either way);
/// `Some(false)` when the caller's own session was revoked meanwhile (nothing
/// done).
pub async fn revoke_own_session(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    client: &ClientInfo,
) -> Result<Option<bool>, AuthError> {
    let mut conn = db::conn(&state.pool).await?;
    match session_rows::find(&mut conn, id).await? {
        Some(s) if s.user_id == user.user.id => {
            let done = revoke_from_live_session(
                state,
                &mut conn,
                user.session.id,
                Target::One(id),
                RevokeReason::RevokedByUser,
                client,
            )
            .await?;
            Ok(Some(done.is_some()))
        }
        _ => Ok(None),
    }
}

/// "Log out other sessions": every session of the user but this one. How
/// many were signed out, or `None` when this session was revoked meanwhile
/// (nothing done).
pub async fn revoke_other_sessions(
    state: &AppState,
    user: &CurrentUser,
    client: &ClientInfo,
) -> Result<Option<usize>, AuthError> {
    let mut conn = db::conn(&state.pool).await?;
    let others = Target::AllOfUser {
        user_id: user.user.id,
        keep: Some(user.session.id),
    };
    revoke_from_live_session(
        state,
        &mut conn,
        user.session.id,
        others,
        RevokeReason::OtherSessionsLoggedOut,
        client,
    )
    .await
}

/// Revokes `target` only if the acting session `actor` is still live, holding
/// its row lock meanwhile: a session revoked after the request began (by the
/// user it was stolen from) cannot revoke anything any more.
async fn revoke_from_live_session(
    state: &AppState,
    conn: &mut crate::db::DbConn,
    actor: Uuid,
    target: Target,
    reason: RevokeReason,
    client: &ClientInfo,
) -> Result<Option<usize>, AuthError> {
    let now = state.clock.now();
    let done = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let live = session_rows::find_for_update(conn, actor)
                .await?
                .is_some_and(|s| s.is_live(now));
            // Revoking one's own current session is always allowed.
            if !live && !matches!(target, Target::One(id) if id == actor) {
                return Ok(None);
            }
            let ended = sessions::revoke(state, conn, target, reason, &client.ip).await?;
            Ok(Some(ended.len()))
        })
        .await?;
    Ok(done)
}
