//! Re-authentication ("sudo mode"). Sensitive actions (second factors,
//! recovery codes, the password, deleting the account) need the session's
//! last authentication (`auth_time`) within REAUTH_WINDOW, and aal2 when the
//! user has a second factor. `/account/reauth` renews it: the password, plus
//! a code when the user has a second factor; a passkey; or the user's OpenID
//! provider (`prompt=login`), then the code when the user has a second
//! factor (the provider's word counts for the first factor only).

use crate::auth::credentials::login::{check_password, AuthOutcome};
use crate::auth::credentials::{check_code, second_factor, CodeOutcome};
use crate::auth::error::AuthError;
use crate::auth::events::AuthEvent;
use crate::auth::http::client::ClientInfo;
use crate::auth::http::current_user::CurrentUser;
use crate::auth::http::pending::MFA_PENDING_TTL;
use crate::auth::sessions::{self, Assurance};
use crate::auth::state::AppState;
use crate::db;
use crate::db::auth_events::{self, NewEvent};
use crate::db::users;

/// Whether the session's last sign-in (`auth_time`, seconds) is recent
/// enough for a sensitive action: within REAUTH_WINDOW of now (a sign-in
/// "in the future", clock skew, counts as now).
pub fn recently_authenticated(state: &AppState, auth_time: i64, now: time::OffsetDateTime) -> bool {
    now.unix_timestamp() - auth_time <= state.settings.reauth_window.whole_seconds()
}

/// Whether `user`'s session may do a sensitive action now. Read from the
/// database, not the session cache: a re-authentication on another instance
/// a moment ago counts.
pub async fn may_act(state: &AppState, user: &CurrentUser) -> Result<bool, AuthError> {
    let mut conn = db::conn(&state.pool).await?;
    let Some(session) = db::sessions::find(&mut conn, user.session.id).await? else {
        return Ok(false);
    };
    let now = state.clock.now();
    if !recently_authenticated(state, session.auth_time.unix_timestamp(), now) {
        return Ok(false);
    }
    Ok(session.aal >= 2 || !second_factor::required(&mut conn, user.user.id).await?)
}

pub enum Reauth {
    Done,
    /// The password (or, for a user with a second factor, the code) is
    /// wrong or missing.
    Failed,
    Throttled(u64),
}

/// Re-authenticates `user`'s session: the password, then the code when the
/// user has a second factor. Wrong answers count as failed sign-ins.
pub async fn reauthenticate(
    state: &AppState,
    user: &CurrentUser,
    password: String,
    code: &str,
    client: &ClientInfo,
) -> Result<Reauth, AuthError> {
    let Some(fresh) = stored_user(state, user).await? else {
        return Ok(Reauth::Failed);
    };
    let checked = check_password(
        state,
        &fresh.email,
        Some(fresh.clone()),
        password,
        client,
        AuthEvent::LoginFailed,
    )
    .await?;
    match checked {
        AuthOutcome::Ok(_) => {}
        AuthOutcome::Failed => return Ok(Reauth::Failed),
        AuthOutcome::Throttled(secs) => return Ok(Reauth::Throttled(secs)),
    }
    let has_factor = {
        let mut conn = db::conn(&state.pool).await?;
        second_factor::required(&mut conn, fresh.id).await?
    };
    let assurance = if has_factor {
        match check_code(state, &fresh, code, client).await? {
            CodeOutcome::Throttled(secs) => return Ok(Reauth::Throttled(secs)),
            CodeOutcome::Failed => return Ok(Reauth::Failed),
            ok => ok.assurance().unwrap_or(Assurance::PASSWORD_OTP),
        }
    } else {
        Assurance::PASSWORD
    };
    renew(state, user, assurance, client).await
}

/// A passkey (with user verification) re-authenticated `user`'s session.
pub async fn reauthenticated_with_passkey(
    state: &AppState,
    user: &CurrentUser,
    client: &ClientInfo,
) -> Result<Reauth, AuthError> {
    renew(state, user, Assurance::PASSKEY, client).await
}

/// The user's OpenID provider re-authenticated them (`prompt=login`,
/// `max_age=0`, an `auth_time` newer than the request), and they have no
/// second factor.
pub async fn reauthenticated_with_provider(
    state: &AppState,
    user: &CurrentUser,
    client: &ClientInfo,
) -> Result<Reauth, AuthError> {
    renew(state, user, Assurance::FEDERATED, client).await
}

/// Whether a re-authentication at the provider (at `confirmed_at`, unix
/// seconds, from the session state) still waits for its second factor: it
/// does for as long as a pending sign-in does (MFA_PENDING_TTL).
pub fn provider_step_open(state: &AppState, confirmed_at: Option<i64>) -> bool {
    let now = state.clock.unix();
    confirmed_at.is_some_and(|at| at <= now && now - at <= MFA_PENDING_TTL.whole_seconds())
}

/// The second factor after the user's provider re-authenticated them (the
/// caller has checked `provider_step_open`). A wrong code counts as a failed
/// sign-in; a right one renews the session at aal2 (`fed otp mfa`).
pub async fn reauthenticate_after_provider(
    state: &AppState,
    user: &CurrentUser,
    code: &str,
    client: &ClientInfo,
) -> Result<Reauth, AuthError> {
    let Some(fresh) = stored_user(state, user).await? else {
        return Ok(Reauth::Failed);
    };
    match check_code(state, &fresh, code, client).await? {
        CodeOutcome::Throttled(secs) => Ok(Reauth::Throttled(secs)),
        CodeOutcome::Failed => Ok(Reauth::Failed),
        CodeOutcome::Totp | CodeOutcome::RecoveryCode => {
            renew(state, user, Assurance::FEDERATED_OTP, client).await
        }
    }
}

/// The signed-in user as stored now (their password or factors may have
/// changed since the session cache read them).
async fn stored_user(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Option<users::User>, AuthError> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(users::find(&mut conn, user.user.id).await?)
}

/// Sets the session's new assurance and `auth_time`, and records it.
async fn renew(
    state: &AppState,
    user: &CurrentUser,
    assurance: Assurance,
    client: &ClientInfo,
) -> Result<Reauth, AuthError> {
    let now = state.clock.now();
    let mut conn = db::conn(&state.pool).await?;
    if !sessions::set_assurance(state, &mut conn, user.session.id, assurance, Some(now)).await? {
        return Ok(Reauth::Failed);
    }
    auth_events::record(
        &mut conn,
        NewEvent {
            kind: AuthEvent::Reauthenticated.as_str(),
            user_id: Some(user.user.id),
            session_id: Some(user.session.id),
            ip: &client.ip,
            detail: "",
            created_at: now,
        },
    )
    .await?;
    Ok(Reauth::Done)
}
