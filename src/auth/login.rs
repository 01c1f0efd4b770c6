//! Checking an email + password, the one way every entry point does it (login
//! form, password grant): throttle first, before any hashing; then argon2 off
//! the workers, with a dummy hash for unknown emails; failures are counted and
//! recorded as auth events. `start_web_session` then binds a browser to a
//! new session row.

use super::client::ClientInfo;
use super::current_user::CurrentUser;
use super::sessions::{self, Kind, Target};
use super::state::AppState;
use super::typed_session::TypedSession;
use super::{crypto, password, throttle};
use crate::db;
use crate::db::auth_events::{self as events, NewEvent};
use crate::db::users::{self, User};
use crate::error::AppError;
use crate::metrics;
use diesel_async::AsyncPgConnection;

pub enum AuthOutcome {
    Ok(User),
    Failed,
    Throttled(u64),
}

pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
    client: &ClientInfo,
) -> Result<AuthOutcome, AppError> {
    let email = email.trim().to_lowercase();
    let user = {
        let mut conn = db::conn(&state.pool).await?;
        users::find_by_email(&mut conn, &email).await?
    };
    let outcome = check_password(state, &email, user, password, client, "login_failed").await?;
    let result = match &outcome {
        AuthOutcome::Ok(_) => "ok",
        AuthOutcome::Failed => "failed",
        AuthOutcome::Throttled(_) => "throttled",
    };
    metrics::inc(metrics::SIGN_INS, &[("result", result)]);
    Ok(outcome)
}

/// Checks `password` for `user` (or against the dummy hash when there is no
/// such user), counting the attempt for `email`. A failure is recorded as an
/// auth event of kind `failure_event`.
pub async fn check_password(
    state: &AppState,
    email: &str,
    user: Option<User>,
    password: String,
    client: &ClientInfo,
    failure_event: &'static str,
) -> Result<AuthOutcome, AppError> {
    let now = state.clock.now();
    let attempt = {
        let mut conn = db::conn(&state.pool).await?;
        match throttle::begin_attempt(
            &mut conn,
            state.settings.login_max_failures,
            email,
            &client.ip,
            now,
        )
        .await?
        {
            Ok(attempt) => attempt,
            Err(secs) => return Ok(AuthOutcome::Throttled(secs)),
        }
    };
    // No connection is held while argon2 runs.
    let ok = password::verify(
        &state.hasher,
        password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let mut conn = db::conn(&state.pool).await?;
    match user {
        Some(user) if ok => {
            throttle::succeed(&mut conn, email, attempt).await?;
            Ok(AuthOutcome::Ok(user))
        }
        user => {
            events::record(
                &mut conn,
                NewEvent {
                    kind: failure_event,
                    user_id: user.map(|u| u.id),
                    session_id: None,
                    ip: &client.ip,
                    detail: "",
                    created_at: now,
                },
            )
            .await?;
            Ok(AuthOutcome::Failed)
        }
    }
}

/// Creates a web session for `user` under a renewed cookie key (no
/// fixation). A live session this browser already had is revoked first.
/// `false` when the password changed meanwhile (no session was created).
pub async fn start_web_session(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    user: &User,
    client: &ClientInfo,
    cookie: &TypedSession,
    previous: Option<&CurrentUser>,
) -> Result<bool, AppError> {
    if let Some(old) = previous {
        sessions::revoke(
            state,
            conn,
            Target::One(old.session.id),
            "superseded",
            &client.ip,
        )
        .await?;
    }
    let row = sessions::create(state, conn, user, Kind::Web, &user.scopes, client).await?;
    let Some(row) = row else { return Ok(false) };
    let csrf_token = crypto::random_token()?;
    cookie.log_in(row.id, &csrf_token)?;
    Ok(true)
}
